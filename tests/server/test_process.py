"""A serving process imports PyJWT without cryptography, and its HS512 tokens still work."""

from __future__ import annotations

import json
import subprocess
import sys

#: Prepares the process as xcomkit.server.asgi does, then issues and verifies a token,
#: tries an RS256 token, and imports cryptography afterwards.
PREPARED = """
import json, sys
from xcomkit.server.process import prepare_serving_process
prepare_serving_process()
from xcomkit.server.auth.tokens import InvalidToken, TokenService
crypto_after_jwt = "cryptography" in sys.modules
tokens = TokenService("s" * 48, expiration_seconds=60)
principal = tokens.verify(tokens.issue("alice", "user"))
rs256 = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
try:
    tokens.verify(rs256)
    refused = False
except InvalidToken:
    refused = True
import cryptography.hazmat.primitives.hashes
print(json.dumps({"crypto_after_jwt": crypto_after_jwt, "principal": [principal.username,
    principal.role], "rs256_refused": refused, "crypto_later": "cryptography" in sys.modules}))
"""


def run(code: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return dict(json.loads(result.stdout))


def test_pyjwt_is_imported_without_cryptography_and_hs512_tokens_round_trip() -> None:
    assert run(PREPARED) == {
        "crypto_after_jwt": False,
        "principal": ["alice", "user"],
        "rs256_refused": True,
        "crypto_later": True,
    }


def test_an_already_imported_cryptography_is_left_as_it_is() -> None:
    code = (
        "import sys, cryptography, json\n"
        "from xcomkit.server.process import prepare_serving_process\n"
        "prepare_serving_process()\n"
        "import jwt.algorithms\n"
        "print(json.dumps({'has_crypto': jwt.algorithms.has_crypto}))\n"
    )
    assert run(code) == {"has_crypto": True}
