enum EvidenceCommand {
    static func run(_ args: [String]) -> Int32 { 2 }
}
