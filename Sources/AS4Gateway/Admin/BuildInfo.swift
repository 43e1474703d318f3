/// What `as4gw_build_info` reports. Raise `version` with every release.
enum BuildInfo {
    static let version = "0.1.0"
}
