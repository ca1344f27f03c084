"""A software My Number card and its test PKI (a simulated J-LIS).

An independent oracle written from the card spec: it never imports jpki_sdk, so a wrong
constant in the SDK cannot be mirrored here. Test keys and identities only; its roots are
unmistakably test roots and are never trusted by default anywhere.
"""
