"""A corpus of ways a secret reaches a log call: field keys, structured values,
text shapes, exceptions, names, remembered values and truncation.

Each case receives a fresh random secret ``s`` (lower-case letters and digits)
and makes opslog calls on an open operation and step; the test then checks
that no part of ``s`` reached any of the five outputs. A case may return a
different string to look for, when the shape needs the secret in another
alphabet (an AWS key id is upper case).
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable
from typing import Any, NamedTuple, Optional

from opslog import OperationContext, StepContext

Run = Callable[[OperationContext, StepContext, str], Optional[str]]


@dataclasses.dataclass
class DbConfig:
    host: str
    password: str


class Login(NamedTuple):
    user: str
    pwd: str


class ApiClient:
    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return f"ApiClient(token={self.token!r})"


def _field(key: str) -> Run:
    def run(op: OperationContext, step: StepContext, s: str) -> None:
        step.info("connecting", {key: s})

    return run


def _message(template: str) -> Run:
    def run(op: OperationContext, step: StepContext, s: str) -> None:
        step.info(template.format(s=s))

    return run


def _fields(build: Callable[[str], Any]) -> Run:
    def run(op: OperationContext, step: StepContext, s: str) -> None:
        op.log_step("configure", "settings", {"config": build(s)})

    return run


def _error(build: Callable[[str], BaseException]) -> Run:
    def run(op: OperationContext, step: StepContext, s: str) -> None:
        try:
            raise build(s)
        except BaseException as exc:
            step.error("call failed", exc)

    return run


#: Keys that name a secret, in the spellings the issue lists and more.
SENSITIVE_KEYS = [
    "password",
    "passwd",
    "Password",
    "PASSWORD",
    "pass_word",
    "Pass_Word",
    "pass-word",
    "pass word",
    "passWord",
    "db_password",
    "dbPassword",
    "DB-Password",
    "x.password",
    "secret",
    "client_secret",
    "clientSecret",
    "CLIENT-SECRET",
    "token",
    "access_token",
    "accessToken",
    "refresh_token",
    "id_token",
    "x-auth-token",
    "X-Amz-Security-Token",
    "api_key",
    "apiKey",
    "api-key",
    "APIKEY",
    "x-api-key",
    "access_key",
    "accessKey",
    "secret_access_key",
    "private_key",
    "privateKey",
    "authorization",
    "Proxy-Authorization",
    "credential",
    "credentials",
    "cookie",
    "Set-Cookie",
    "session",
    "sessionid",
    "session_id",
    "JSESSIONID",
    "passphrase",
    "pwd",
    "db_pwd",
    "userPwd",
    "MYSQL_PWD",
    "jwt",
    "JWT",
    "sig",
    "signature",
    "otp",
    "pin",
    "auth",
    "pass\u200bword",
    "pass\u00adword",
    "pa\u2060ssword",
    "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44",  # full-width "password"
    "\ufeffapi_key",
]

CASES: dict[str, Run] = {f"key {key!r}": _field(key) for key in SENSITIVE_KEYS}

CASES.update(
    {
        # -- structured values ---------------------------------------------------------
        "nested mapping": _fields(lambda s: {"db": {"host": "h", "password": s}}),
        "deep mapping (JSON string)": _fields(
            lambda s: {"a": {"b": {"c": {"d": {"e": {"password": s}}}}}}
        ),
        "list of mappings": _fields(lambda s: [{"user": "a", "token": s}, {"user": "b"}]),
        "tuple in a mapping": _fields(lambda s: {"secret": (s, s)}),
        "dataclass": _fields(lambda s: DbConfig("db", s)),
        "named tuple": _fields(lambda s: Login("bob", s)),
        "dataclass in a list": _fields(lambda s: [DbConfig("db", s)]),
        "bytes under a key": _fields(lambda s: {"password": s.encode()}),
        "argv list": _fields(lambda s: ["mysql", "-u", "root", "--password", s]),
        "argv in a mapping": _fields(lambda s: {"cmd": ["psql", "--password", s, "-h", "db"]}),
        "object repr": _fields(lambda s: ApiClient(s)),
        # -- text ----------------------------------------------------------------------
        "key=value": _message("login password={s} failed"),
        "key: value": _message("password: {s}"),
        "key => value": _message("password => {s}"),
        "key = value": _message("Password = {s}"),
        "pass_word=": _message("pass_word={s}"),
        "pass-word:": _message("pass-word: {s}"),
        "single-quoted": _message("password='{s}'"),
        "double-quoted": _message('password="{s}"'),
        "quoted with blanks": _message('password="a b {s} c"'),
        "JSON": _message('{{"password": "{s}", "user": "bob"}}'),
        "escaped JSON": _message('{{\\"password\\": \\"{s}\\"}}'),
        "double-escaped JSON": _message('{{\\\\\\"token\\\\\\": \\\\\\"{s}\\\\\\"}}'),
        "python repr of a dict": _message("{{'api_key': '{s}'}}"),
        "XML element": _message("<password>{s}</password>"),
        "XML element with namespace": _message('<db:Password type="x">{s}</db:Password>'),
        "flag with a blank": _message("mysql --password {s} -h db"),
        "flag with =": _message("mysql --password={s}"),
        "short flag word": _message("tool --pwd {s}"),
        "environment variable": _message("PGPASSWORD={s} psql -h db"),
        "environment variable (pwd)": _message("MYSQL_PWD={s} mysql"),
        "value with a comma": _message("token=ab,{s}"),
        "value with a semicolon": _message("token=ab;{s}"),
        "value with an ampersand": _message("secret=ab&{s}"),
        "value with a parenthesis": _message("secret=ab){s}"),
        "bearer header": _message("Authorization: Bearer {s}"),
        "basic header": _message("Authorization: Basic {s}"),
        "bearer alone": _message("sent bearer {s} upstream"),
        "cookie header": _message("Cookie: sessionid={s}; theme=dark"),
        "URL password": _message("GET https://admin:{s}@db.local/x"),
        "URL password with @": _message("GET https://admin:p@{s}@db.local/x"),
        "URL password with reserved characters": _message("https://u:{s}:/#?@db.local/x"),
        "URL token as user": _message("git clone https://{s}@github.com/org/repo.git"),
        "URL token user and password": _message("https://x-access-token:{s}@github.com/o/r"),
        "query sig": _message("GET https://blob.local/c/f?sv=2020&sig={s}&se=2030"),
        "query signature": _message("GET https://h/x?signature={s}"),
        "query X-Amz-Signature": _message(
            "https://b.s3.amazonaws.com/k?X-Amz-Date=20250101&X-Amz-Signature={s}"
        ),
        "query X-Amz-Credential": _message("https://b/k?X-Amz-Credential={s}%2F20250101"),
        "query X-Goog-Signature": _message(
            "https://storage.googleapis.com/b/o?X-Goog-Signature={s}"
        ),
        "query access_token": _message("https://api.local/v1/me?access_token={s}&pretty=1"),
        "query token": _message("wss://push.local/ws?token={s}"),
        "path parameter jsessionid": _message("GET /app/cart;jsessionid={s}?item=1"),
        "api_key: value": _message("api_key: {s}"),
        "client_secret in a form body": _message("grant_type=client_credentials&client_secret={s}"),
        "jwt= value": _message("jwt={s}"),
        "otp in text": _message("otp: {s}"),
        "zero-width space inside the key": _message("pass\u200bword={s}"),
        "soft hyphen inside the key": _message("to\u00adken: {s}"),
        "word joiner inside a flag": _message("--pass\u2060word {s}"),
    }
)


def _jwt(s: str) -> str:
    return f"eyJhbGciOiJIUzI1NiJ9.eyJ{s}.{s[::-1]}"


def _pem(kind: str) -> Run:
    def run(op: OperationContext, step: StepContext, s: str) -> None:
        body = "\n".join([f"MIIE{s}", f"{s[::-1]}AAAA", "QUJD"])
        step.info(f"key:\n-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\nloaded")

    return run


def _cut_pem(op: OperationContext, step: StepContext, s: str) -> None:
    step.info(f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{s}\n{s}")


def _aws(op: OperationContext, step: StepContext, s: str) -> str:
    key = "AKIA" + s[:16].upper()
    step.info(f"using key {key} for s3")
    return key


def _aws_session(op: OperationContext, step: StepContext, s: str) -> str:
    key = "ASIA" + s[:16].upper()
    step.info(f"key={key}")
    return key


def _google(op: OperationContext, step: StepContext, s: str) -> str:
    key = "AIza" + (s + s)[:35]
    step.info(f"maps {key}")
    return key


def _jwt_in(template: str) -> Run:
    def run(op: OperationContext, step: StepContext, s: str) -> None:
        step.info(template.replace("JWT", _jwt(s)))

    return run


CASES.update(
    {
        "JWT": _jwt_in("token JWT"),
        "JWT glued to text": _jwt_in("abcJWT done"),
        "JWT in a bearer header": _jwt_in("Authorization: Bearer JWT"),
        "JWT url-encoded glue": _jwt_in("redirect?state%3DJWT"),
        "PEM RSA": _pem("RSA PRIVATE KEY"),
        "PEM PKCS#8": _pem("PRIVATE KEY"),
        "PEM EC": _pem("EC PRIVATE KEY"),
        "PEM encrypted": _pem("ENCRYPTED PRIVATE KEY"),
        "OpenSSH key": _pem("OPENSSH PRIVATE KEY"),
        "PGP key": _pem("PGP PRIVATE KEY BLOCK"),
        "PEM cut short": _cut_pem,
        "AWS access key id": _aws,
        "AWS session key id": _aws_session,
        "Google API key": _google,
    }
)


# -- exceptions ------------------------------------------------------------------------
def _called_process_list(s: str) -> BaseException:
    return subprocess.CalledProcessError(1, ["mysql", "--password", s, "-e", "select 1"])


def _called_process_text(s: str) -> BaseException:
    return subprocess.CalledProcessError(2, f"pg_dump --password={s} db")


def _chained(s: str) -> BaseException:
    try:
        raise ConnectionError(f"connect to postgres://app:{s}@db:5432 refused")
    except ConnectionError as inner:
        outer = RuntimeError("backup failed")
        outer.__cause__ = inner
        return outer


CASES.update(
    {
        "exception message": _error(lambda s: ValueError(f"bad credentials: password={s}")),
        "exception with a dict argument": _error(lambda s: KeyError({"token": s})),
        "exception with a URL": _error(lambda s: OSError(f"GET https://u:{s}@h failed")),
        "CalledProcessError with a list": _error(_called_process_list),
        "CalledProcessError with a string": _error(_called_process_text),
        "chained exception": _error(_chained),
        "exception in log_error": lambda op, step, s: op.log_error(
            "auth", "login failed", PermissionError(f"token={s} rejected")
        ),
    }
)


# -- remembered values ---------------------------------------------------------------
def _remembered(op: OperationContext, step: StepContext, s: str) -> None:
    step.info("configured", {"db_password": s})
    step.warn(f"retrying login with {s}")
    try:
        raise RuntimeError(f"server said: {s} is wrong")
    except RuntimeError as exc:
        step.error("gave up", exc)


def _remembered_bytes(op: OperationContext, step: StepContext, s: str) -> None:
    step.info("configured", {"secret": s.encode()})
    step.info(f"echo {s}")


def _remembered_int(op: OperationContext, step: StepContext, s: str) -> str:
    pin = int("".join(str(ord(c) % 10) for c in s[:12]))
    step.info("configured", {"pin": pin})
    step.info(f"card {pin} locked")
    return str(pin)


def _remembered_across_configure(op: OperationContext, step: StepContext, s: str) -> None:
    import opslog

    step.info("configured", {"token": s})
    opslog.configure(level="info")  # an idempotent reconfiguration keeps them
    opslog.configure(redact_keys=["ssn"])
    step.info(f"token echoed back: {s}")


CASES.update(
    {
        "remembered value in later text": _remembered,
        "remembered bytes value": _remembered_bytes,
        "remembered int value": _remembered_int,
        "remembered across configure()": _remembered_across_configure,
    }
)


# -- names, statuses, truncation ---------------------------------------------------
def _step_name(op: OperationContext, step: StepContext, s: str) -> None:
    with op.start_step(f"rotate token={s}") as inner:
        inner.info("rotated")


def _child_name(op: OperationContext, step: StepContext, s: str) -> None:
    op.create_child_context(f"login password={s}").end_operation()


def _status(op: OperationContext, step: StepContext, s: str) -> None:
    inner = op.start_step("x")
    inner.end_step(f"failed: token={s}")


def _straddle(op: OperationContext, step: StepContext, s: str) -> None:
    step.info("x" * 4080 + f" password={s}{s}")


def _straddle_jwt(op: OperationContext, step: StepContext, s: str) -> None:
    step.info("y" * 4070 + " " + _jwt(s))


def _straddle_field(op: OperationContext, step: StepContext, s: str) -> None:
    step.info("long", {"note": "z" * 4090 + f" Bearer {s}{s}"})


def _retry_error(op: OperationContext, step: StepContext, s: str) -> None:
    for attempt in op.retry("connect", max_attempts=2, delay=0):
        with attempt:
            if attempt.number == 1:
                raise ConnectionError(f"auth token={s} expired")


CASES.update(
    {
        "step name": _step_name,
        "child operation name": _child_name,
        "end status": _status,
        "secret straddling the length limit": _straddle,
        "JWT straddling the length limit": _straddle_jwt,
        "field straddling the length limit": _straddle_field,
        "retried error": _retry_error,
    }
)
