"""Records of the design's example zone (crowd on 1.1.1.10 and 1.1.1.11, ...), as the lookup returns them."""


def rec(name, value, ttl=60, rtype="A"):
    return {"name": name, "type": rtype, "ttl": ttl, "value": value}


RECORDS = [
    rec("crowd", "1.1.1.10"), rec("crowd", "1.1.1.11"),
    rec("dashboard", "1.1.1.10"), rec("dashboard", "1.1.1.11"),
    rec("cacti", "1.1.1.10"),
    rec("bodportal", "1.1.1.11"),
]
