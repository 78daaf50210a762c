"""Verified identity (AUTH_MODE=jwt): which tokens are believed, and how the keys are found.

RS256/ES256 keys come from a real JWKS endpoint, a small HTTP server on localhost whose key set
the tests rotate, the way an identity provider's would.
"""

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.contrib.auth.models import User
from django.core.management import call_command
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from shop.identity import issue_token

JOHN = "550e8400-e29b-41d4-a716-446655440000"
JANE = "550e8400-e29b-41d4-a716-446655440001"
SECRET = "a-test-secret-of-at-least-thirty-two-bytes"

pytestmark = pytest.mark.django_db(databases=["default", "cart", "product"])


@pytest.fixture
def jwt_mode(settings):
    settings.AUTH_MODE = "jwt"
    settings.AUTH_JWT_SECRET = SECRET
    settings.AUTH_JWKS_URL = ""
    settings.AUTH_JWT_ISSUER = ""
    settings.AUTH_JWT_AUDIENCE = ""
    settings.AUTH_JWT_LEEWAY = 30
    return settings


def token(sub=JOHN, *, key=SECRET, algorithm="HS256", lifetime=600, headers=None, **claims):
    now = int(time.time())
    return jwt.encode({"sub": sub, "iat": now, "exp": now + lifetime, **claims}, key, algorithm, headers=headers)


def cart(service_client, bearer=None, **headers):
    if bearer is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {bearer}"
    return service_client("cart", **headers).get("/cart")


def assert_refused(response, words):
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert words in response.json()["detail"]


# --- HS256 ------------------------------------------------------------------------------------


def test_a_valid_token_is_its_subjects_identity(jwt_mode, service_client):
    response = cart(service_client, token(JOHN))

    assert response.status_code == 200
    assert response.json()["customer_id"] == JOHN


def test_no_token_is_401_with_a_bearer_challenge(jwt_mode, service_client):
    response = cart(service_client)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="shop"'
    assert "detail" in response.json()


def test_the_header_alone_identifies_no_one_in_jwt_mode(jwt_mode, service_client):
    assert cart(service_client, HTTP_X_CUSTOMER_ID=JOHN).status_code == 401


def test_an_expired_token_is_refused(jwt_mode, service_client):
    response = cart(service_client, token(lifetime=-60))

    assert_refused(response, "expired")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_a_token_expired_within_the_leeway_is_believed(jwt_mode, service_client):
    assert cart(service_client, token(lifetime=-10)).status_code == 200


def test_a_token_signed_with_another_key_is_refused(jwt_mode, service_client):
    assert_refused(cart(service_client, token(key="another-secret-of-at-least-thirty-two-b")), "signature")


def test_an_unsigned_token_is_refused(jwt_mode, service_client):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': JOHN, 'exp': int(time.time()) + 600})}."

    assert_refused(cart(service_client, unsigned), "'none'")


@pytest.mark.parametrize("garbage", ["not-a-token", "a.b.c", ""])
def test_garbage_is_refused(jwt_mode, service_client, garbage):
    response = service_client("cart", HTTP_AUTHORIZATION=f"Bearer {garbage}").get("/cart")

    assert response.status_code == 401
    assert "detail" in response.json()


def test_another_scheme_is_refused(jwt_mode, service_client):
    response = service_client("cart", HTTP_AUTHORIZATION="Basic YWRtaW46YWRtaW4=").get("/cart")

    assert_refused(response, "Bearer")


def test_a_token_without_expiry_is_refused(jwt_mode, service_client):
    assert_refused(cart(service_client, jwt.encode({"sub": JOHN}, SECRET, "HS256")), "'exp'")


def test_a_subject_that_is_no_customer_id_is_refused_unless_staff(jwt_mode, service_client):
    assert_refused(cart(service_client, token("robot")), "subject")
    staff = service_client("product", HTTP_AUTHORIZATION=f"Bearer {token('ops', roles=['staff'])}")
    assert staff.post("/products", {"sku": "NEW-1", "name": "New", "price": "1.00"}, format="json").status_code == 201


def test_the_header_must_name_the_tokens_subject(jwt_mode, service_client):
    assert cart(service_client, token(JOHN), HTTP_X_CUSTOMER_ID=JOHN).status_code == 200
    other = cart(service_client, token(JOHN), HTTP_X_CUSTOMER_ID=JANE)
    assert other.status_code == 403
    assert "subject" in other.json()["detail"]


def test_issuer_and_audience_are_checked_when_configured(jwt_mode, service_client):
    jwt_mode.AUTH_JWT_ISSUER = "https://id.example.com/"
    jwt_mode.AUTH_JWT_AUDIENCE = "shop"

    assert cart(service_client, token(iss="https://id.example.com/", aud="shop")).status_code == 200
    assert_refused(cart(service_client, token(iss="https://evil.example.com/", aud="shop")), "not issued")
    assert_refused(cart(service_client, token(iss="https://id.example.com/", aud="another-app")), "not issued")
    assert_refused(cart(service_client, token()), "'iss'")


def test_a_public_route_ignores_bad_credentials(jwt_mode, service_client):
    response = service_client("product", HTTP_AUTHORIZATION="Bearer broken").get("/products")

    assert response.status_code == 200


def test_a_staff_admin_session_works_in_the_browsable_api(jwt_mode, service_client):
    client = service_client("product")
    client.force_login(User.objects.create_user("clerk", password="pw", is_staff=True))

    response = client.post("/products", {"sku": "NEW-2", "name": "New", "price": "1.00"}, format="json")

    assert response.status_code == 201


def test_a_session_of_a_user_who_is_not_staff_is_anonymous(jwt_mode, service_client):
    client = service_client("product")
    client.force_login(User.objects.create_user("visitor", password="pw"))

    assert client.post("/products", {"sku": "NEW-3", "name": "New", "price": "1.00"}, format="json").status_code == 401


# --- RS256 / ES256 from a JWKS endpoint -------------------------------------------------------


class KeySet:
    """The identity provider's published keys, changed by the test; counts how often they were fetched."""

    def __init__(self):
        self.keys: list[dict] = []
        self.fetches = 0
        self.up = True


@pytest.fixture
def jwks():
    key_set = KeySet()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if not key_set.up:
                self.send_error(503)
                return
            key_set.fetches += 1
            body = json.dumps({"keys": key_set.keys}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key_set.url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    yield key_set
    server.shutdown()
    server.server_close()


def rsa_key(kid):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def ec_key(kid):
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "ES256"}


@pytest.fixture
def jwks_mode(jwt_mode, jwks):
    jwt_mode.AUTH_JWT_SECRET = ""
    jwt_mode.AUTH_JWKS_URL = jwks.url
    jwt_mode.AUTH_JWKS_COOLDOWN = 30
    return jwks


def test_rs256_and_es256_tokens_verify_with_the_published_keys(jwks_mode, service_client):
    rsa_private, rsa_public = rsa_key("rsa-1")
    ec_private, ec_public = ec_key("ec-1")
    jwks_mode.keys = [rsa_public, ec_public]

    by_rsa = cart(service_client, token(JOHN, key=rsa_private, algorithm="RS256", headers={"kid": "rsa-1"}))
    by_ec = cart(service_client, token(JANE, key=ec_private, algorithm="ES256", headers={"kid": "ec-1"}))

    assert by_rsa.status_code == 200
    assert by_rsa.json()["customer_id"] == JOHN
    assert by_ec.status_code == 200
    assert by_ec.json()["customer_id"] == JANE
    assert jwks_mode.fetches == 1  # the key set is cached


def test_a_rotated_key_is_fetched_once_on_its_first_unknown_kid(jwks_mode, service_client):
    old_private, old_public = rsa_key("2026-11")
    new_private, new_public = rsa_key("2026-12")
    jwks_mode.keys = [old_public]
    assert (
        cart(service_client, token(key=old_private, algorithm="RS256", headers={"kid": "2026-11"})).status_code == 200
    )

    # when the provider rotates its key (after the cooldown since the last fetch)
    jwks_mode.keys = [new_public]
    from shop.identity import token_verifier

    token_verifier().jwks._last_successful_fetch -= 31
    rotated = cart(service_client, token(key=new_private, algorithm="RS256", headers={"kid": "2026-12"}))

    # then
    assert rotated.status_code == 200
    assert jwks_mode.fetches == 2


def test_unknown_kids_refetch_at_most_once_per_cooldown(jwks_mode, service_client):
    known_private, known_public = rsa_key("known")
    jwks_mode.keys = [known_public]
    stranger, _ = rsa_key("stranger")
    assert (
        cart(service_client, token(key=known_private, algorithm="RS256", headers={"kid": "known"})).status_code == 200
    )

    for _ in range(5):
        forged = cart(service_client, token(key=stranger, algorithm="RS256", headers={"kid": "stranger"}))
        assert_refused(forged, "key")

    assert jwks_mode.fetches == 1  # within the cooldown, no refetch however many unknown kids arrive


def test_a_token_signed_with_an_unpublished_key_of_a_known_kid_is_refused(jwks_mode, service_client):
    _, public = rsa_key("k1")
    impostor, _ = rsa_key("k1")
    jwks_mode.keys = [public]

    assert_refused(cart(service_client, token(key=impostor, algorithm="RS256", headers={"kid": "k1"})), "signature")


def test_hs256_is_refused_when_only_a_jwks_url_is_configured(jwks_mode, service_client):
    _, public = rsa_key("k1")
    jwks_mode.keys = [public]

    assert_refused(cart(service_client, token(key="whatever-secret-at-least-32-bytes-long")), "'HS256'")


def test_an_unreachable_key_set_is_503_not_the_callers_fault(jwks_mode, service_client):
    private, public = rsa_key("k1")
    jwks_mode.keys = [public]
    jwks_mode.up = False

    signed = token(key=private, algorithm="RS256", headers={"kid": "k1"})

    response = cart(service_client, signed)

    assert response.status_code == 503
    assert "keys" in response.json()["detail"]
    public = service_client("product", HTTP_AUTHORIZATION=f"Bearer {signed}").get("/products")
    assert public.status_code == 200  # a public route needs no keys


# --- issue_token ------------------------------------------------------------------------------


def test_issue_token_command_signs_a_token_the_platform_believes(jwt_mode, service_client, capsys):
    call_command("issue_token", JANE)
    customer = capsys.readouterr().out.strip()
    call_command("issue_token", str(uuid.uuid4()), "--staff")
    staff = capsys.readouterr().out.strip()

    assert cart(service_client, customer).json()["customer_id"] == JANE
    products = service_client("product", HTTP_AUTHORIZATION=f"Bearer {staff}")
    assert products.post("/products", {"sku": "NEW-4", "name": "N", "price": "1.00"}, format="json").status_code == 201
    assert jwt.decode(staff, SECRET, algorithms=["HS256"])["roles"] == ["staff"]


def test_issue_token_refuses_a_customer_id_that_is_not_a_uuid(jwt_mode):
    with pytest.raises(Exception, match="UUID"):
        call_command("issue_token", "john")


def test_issue_token_matches_the_library_function(jwt_mode):
    claims = jwt.decode(issue_token(subject=JOHN, lifetime=60), SECRET, algorithms=["HS256"])

    assert claims["sub"] == JOHN
    assert 55 <= claims["exp"] - time.time() <= 60
