print("as4gw")
