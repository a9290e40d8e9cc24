"""MIT's own encrypted sample notifications, from its public SDKs' tests, and the forms
real notifications take (docs/mit-webpay-plus.md, "What real notifications look like").

Both decrypt with the public sandbox key. Tests decrypt them, change what the case needs
(the reference and amount of a link of ours, one form at a time) and encrypt again: every
field name and every other value is MIT's."""

from __future__ import annotations

import re
from urllib.parse import quote

from paylink_tui.gateway import sandbox_defaults as sd
from paylink_tui.gateway.crypto import decrypt, encrypt

KEY = sd.SANDBOX_KEY

# MITEC-Integrations/WPP-Python tests/WppClientTest.py (the same in WPP-NodeJS): the value as
# MIT posts it, URL-encoded, folded with %0D%0A every 64 characters. Decrypted: one line,
# elements four spaces apart, date dd/mm/yyyy (29/09/2021), `promocion` and `number_tkn`.
WPP_PYTHON = (
    "otB4VyAtYh5bW4IeVhM30125kqfmzVxxDlFQRZHCUroq6e1MSISChhDstN1gKKnA%0D%0AOs%2BdgrMxpLDffJQj"
    "J8GJyGeOaOG8LSfUg0vaxVwnTwXEzXFheI%2BbgarDW0fUXS6h%0D%0ARd1jFwMKLduhHrQ2dyE9EijwtdQv6TmI"
    "2Gp6tfQaPix0GRHcPZUCAozNyhZWaNIO%0D%0AAqfI%2FRRb8FNHbvYHEEVssRRfeF8f8k%2F8HF5oM4Ec%2BcT8"
    "48llOgwETNjpGgOAaHi8%0D%0AZwjPk2YBxoqxhFLd8Kht2qnAyOht3SSLXvSG3mx1Cd1NfJGDWfjkFXv0omump%"
    "2FF1%0D%0AZEHr7MzgWCPROTfSaWaz1phQO%2BNNmba4lwS2KMMnlp76XQXhHqW3AVvSbtcZyj2i%0D%0APAL5Y3"
    "aJI%2BswMXe97IvyUW%2FM6GiBESoSOh4m5TTeEZfmwAT47H81w%2F%2FBRaEmUM92%0D%0A9Pq5kCTdizBOjf9O"
    "iZkthM3rTsWJJ9nc93UHCZ%2BTuyTsyDwxoSHJ32cRt2G9M%2Fhq%0D%0AYXNfh8Deh45Fgi8K4gj9KQJ25FUd%2"
    "F0mknDMxCva7EbW6oOADKBV3GlBN1RSyJSIt%0D%0A0LIVfVCgFtY1sPdrk8FGhsy7Z3jXb2kpYrUhbMwVGw1Jui"
    "4jdNVjsoxWy1Q8MZmP%0D%0AaLoiHGMnijnQXDw9SnyypB9nIhpMhnp2z%2FPlLU%2BJNo9NeO%2BupcQuINIeFD"
    "ke1cBd%0D%0ASPGUhLMDjBPSBpz8irtRuSHo1QJSILtxKXCe5ifnFFps98dzaAYKL03fwQbWgShg%0D%0AIHfWuu"
    "UdE6sHm22lIZeNdN8PvDgJ6MPLuy26wz5dCJUc4s%2BS3XHIQ63jFAnTJ4ig%0D%0AQnvl6DquCWQnMIRejd7JCN"
    "%2FEspPLJ52ftT27xJxfg3b0sTeQLcRZflZU56Rj4j%2FP%0D%0AorxVsgze0frAA%2FFc52LJ9LrUiTv9hb27X5"
    "JqOtDZ35Qpq3bpPEghZtjOdGptKuB4%0D%0AA0c%2FcCzHwlZbJ7Aakqm2IG2gLOA%2BAqxJYOSSSMz5CjRQuHVX"
    "Tv8gAK81JrPxM46t%0D%0ABUGVgAKNSbgzADaACDhxPL8GyBwb4ZhMZdCYHUanHGziS9rmhV5ynggidbF3Ssen%0"
    "D%0AvK1fvJT9%2F2d5JXQv%2B4TSv3b63nnm173yFS7cqLG3f38Mgz%2B89Vm3FHssKMkme1NH%0D%0AlWT5Q02b"
    "pDRmvhI8EIlDr5Fnj8pS6ck4i62fbdBZCaIE2jMUeonGtdqw3Ymy6Sn4%0D%0Ah2eEErVoJmDmesEpHglkFBcwze"
    "3XC6cysyx16hdDWJIbIueCbK57jgEC5%2BT4mJ1h%0D%0AsZJC2q7hzFagLcssdicr1w%3D%3D"
)

# MITEC-Integrations/WPP-Java src/test/.../WppClientTest.java: plain base64. Decrypted:
# pretty-printed (line breaks, two-space indentation), date dd/mm/yy (05/09/22).
WPP_JAVA = (
    "UHkxa6LtFWnN45zIb1dPCIcLSR3WOHmM2wejZIIiyhmQOOFoKA2iJnKyXLa5Y/2FnqoiVH1XV7tM5Uhzw6W3v0xz"
    "fNfnKfee4oFqpLxHG1uCqxgYAbCI7eWT37Im7VVCzpxl3QSPiXRQGnKrLOdNjaART1omE8/lUvKSgOC8mVnBg0VD"
    "1bSwOUJl8PqfzAM9fwiboQ7ucGxF7JTTmt0hdN2Fz58MXpWYEWcGJDUE9TMNCbUCACO3S1u9e10bCDQa4oSZ0vFb"
    "p5NZVivk8Vbp2jqo6LFLQYt5nZKqdGOdfusg4rVYD2oDrvSV3njkI9onpxsAU4iJT4L3ebsqyXcHxaAmu/T/B1m+"
    "WoSphFeV5Wcla8R6vh0M2dZFjDX6X016Dr7JR25aulgy1TmpzM0PEOxHGcsl+iGHk17dNECZ8/kY9Vsf9R4sz0sF"
    "swjQb3QOuawCMUPht4pdKsN1RXioTvLyIQpAKAavuGOIF+YAg59KWHmFFFdcLmeNyppyuY5RiguhfQVk8bql4Zd8"
    "sDOv/nomrdLWyxYEKUdjtkeKcz5EeyAkLUDNXsHrmOFn6MoF9ThSWB9eVHIlvIdkuaW5Qy3r7juXjNMcBW4suq2L"
    "iEvs+DbwhGSoKYAd2WhrMtt6fST2/kiYdbZT3A8EyN4Tz/6Qh2KJ4ur/hfiZnkyV/r4R3Rmxm+FYJpbPatItHBQx"
    "Wx/H9BUtXQ8BO3j2h7jcai5XwmmXSQAgvI+GvL/P6oO3h51dnrRfhVUfOjV0BF0Yiz4GJlvxrWoI8u/s2bIi4LEw"
    "jQ7CMJzmUCeCVIPro730JLhkYFNZsvV/ANCt1sNj7HS0olWO3QZdmX7cLK6gXLMO4b/LMAoVqmOW95Nk+PuTHp+T"
    "OtOL8FIUNCVEqpXB+kHgIVTN0GdCsBKgvVrmWi5IA8BSKPfX33e8+XWQ2KHJJ4VvH8yyDb2Akxuc8XoxIUoXtV1u"
    "0GG7icQVaNEV/Xmj9ofUTqDcGaqqYN4OsZZ7t0ruYMAYwQQw7Y7/OGhHJtmLba+MfGUhpTeSCuxW80AWTXftq2k9"
    "kDR0gxSacEufIOfVuhGtCf5eZqxTawk8RJ4hArxDiFS2ODDvHexOk8iEzkz5rysdBTi1cgPTq4w="
)


def plain(sample: str) -> str:
    """The decrypted XML of a sample."""
    return decrypt(sample, KEY)


def with_values(xml: str, **values: str) -> str:
    """`xml` with the text of each named element replaced (`<amount>…</amount>` or an empty
    `<cc_name/>`); the element must be there."""
    for tag, value in values.items():
        pattern = re.compile(rf"<{tag}>[^<]*</{tag}>|<{tag}/>")
        xml, n = pattern.subn(f"<{tag}>{value}</{tag}>" if value else f"<{tag}/>", xml, count=1)
        assert n == 1, f"no <{tag}> in the sample"
    return xml


def without(xml: str, *tags: str) -> str:
    """`xml` without the named elements."""
    for tag in tags:
        xml, n = re.subn(rf"\s*(?:<{tag}>[^<]*</{tag}>|<{tag}/>)", "", xml, count=1)
        assert n == 1, f"no <{tag}> in the sample"
    return xml


def folded(xml: str, width: int, key: str = KEY) -> str:
    """strResponse as MIT folds it: base64 broken with CRLF every `width` characters, then
    URL-encoded (the line breaks travel as %0D%0A), like WPP_PYTHON."""
    b64 = encrypt(xml, key)
    lines = "\r\n".join(b64[i:i + width] for i in range(0, len(b64), width))
    return quote(lines, safe="")


def plus_as_space(xml: str, key: str = KEY) -> str:
    """strResponse whose '+' a form decoder turned into spaces (one that contains '+')."""
    for _ in range(500):
        b64 = encrypt(xml, key)
        if "+" in b64:
            return b64.replace("+", " ")
    raise AssertionError("no ciphertext with a '+' in 500 tries")
