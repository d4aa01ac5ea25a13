"""Well-known credential formats: one table, found wherever they appear.

Each :class:`CredentialFormat` is a provider's token shape as public
secret-scanning rule sets describe it (gitleaks, trufflehog, detect-secrets,
GitHub's secret-scanning partner patterns): a fixed **prefix** (``ghp_``,
``xoxb-``, ``AKIA``) and a **body** after it. The table is the only place a
format is written: the redaction gates take their literals from it, and the
tests generate every entry's tokens in every position (bare value, inside text,
URL path, header, exception message, traceback, command line, JSON, YAML, XML)
and on every output. Adding a format is adding a row.

A token is found where its prefix starts, not after a letter or digit, and its
body follows, not followed by a letter or digit; the redacted span then runs on
over further segments of the token (``-2``, ``.01.abc``). A format whose prefix
is a key (``AccountKey=``) keeps the prefix readable.

**Bodies are a small grammar**, so that every match costs a bounded number of
steps: a sequence of units, each a character class with a bounded count
(``[A-Za-z0-9]{36}``, ``[a-f0-9]{20,64}``, at most :data:`MAX_UNIT` characters)
or one literal character (``.``, ``-``, ``_``, or escaped). No ``*``, ``+``,
alternation or group: :class:`CredentialFormat` refuses them. A scan finds the
prefixes with one literal search and tries each format of the prefix found once
per place, so its cost is linear in the text whatever the text holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .literals import literal_finder

__all__ = ["CREDENTIAL_FORMATS", "MAX_UNIT", "CredentialFormat", "CredentialScanner"]

#: The longest count a body's unit may have.
MAX_UNIT: Final = 256
_UNIT = re.compile(
    r"\[(?:\\.|[^\]\\])+\]\{(?P<low>\d+)(?:,(?P<high>\d+))?\}"  # a class, bounded
    r"|\\[^A-Za-z0-9]|[A-Za-z0-9_\-.:/@~=]"  # one literal character
)
#: More segments of the same token past its body (``-2``, ``.01.x``): hidden too.
_TOKEN_TAIL = re.compile(r"(?:[._\-][A-Za-z0-9]+)*")
_EDGE = "A-Za-z0-9"


@dataclass(frozen=True)
class CredentialFormat:
    """One provider's token shape (see the module's documentation)."""

    #: A short id, ``provider-kind`` (``github-pat``).
    name: str
    #: The literal a token starts with, case included.
    prefix: str
    #: What follows the prefix, in the body grammar.
    body: str
    #: The rule set it is taken from.
    source: str
    #: True when the prefix names the value (``AccountKey=``) and stays readable.
    keep_prefix: bool = False

    def __post_init__(self) -> None:
        if not self.prefix:
            raise ValueError(f"credential format {self.name!r}: the prefix is empty")
        position = 0
        while position < len(self.body):
            unit = _UNIT.match(self.body, position)
            if unit is None:
                raise ValueError(
                    f"credential format {self.name!r}: its body is not in the body grammar "
                    f"at {self.body[position:]!r} (classes with bounded counts, and single "
                    "literal characters)"
                )
            high = unit.group("high") or unit.group("low")
            if high is not None and not int(unit.group("low") or 0) <= int(high) <= MAX_UNIT:
                raise ValueError(
                    f"credential format {self.name!r}: a count over {MAX_UNIT} or reversed"
                )
            position = unit.end()
        if not self.body:
            raise ValueError(f"credential format {self.name!r}: the body is empty")

    def pattern(self) -> str:
        """The regular expression of a whole token (group ``w``: what is hidden)."""
        before = f"(?<![{_EDGE}])" if self.prefix[0].isalnum() else ""
        prefix = re.escape(self.prefix)
        if self.keep_prefix:
            return f"{before}{prefix}(?P<w>{self.body})(?![{_EDGE}])"
        return f"{before}(?P<w>{prefix}{self.body})(?![{_EDGE}])"


def _formats(source: str, rows: Iterable[tuple[str, str, str]]) -> tuple[CredentialFormat, ...]:
    return tuple(CredentialFormat(name, prefix, body, source) for name, prefix, body in rows)


_ALNUM36 = "[A-Za-z0-9]{36}"
_HEX32 = "[a-fA-F0-9]{32}"
_URLSAFE = "A-Za-z0-9_\\-"

#: The built-in table. Order does not matter: at one place the longest prefix
#: is tried first.
CREDENTIAL_FORMATS: tuple[CredentialFormat, ...] = (
    *_formats(
        "gitleaks, GitHub secret scanning",
        [
            ("github-pat", "ghp_", _ALNUM36),
            ("github-oauth", "gho_", _ALNUM36),
            ("github-user-to-server", "ghu_", _ALNUM36),
            ("github-server-to-server", "ghs_", _ALNUM36),
            ("github-refresh", "ghr_", _ALNUM36),
            ("github-fine-grained-pat", "github_pat_", "[A-Za-z0-9_]{82}"),
            ("gitlab-pat", "glpat-", f"[{_URLSAFE}]{{20,64}}"),
            ("gitlab-pipeline-trigger", "glptt-", "[a-f0-9]{40}"),
            ("gitlab-runner", "glrt-", f"[{_URLSAFE}]{{20,64}}"),
            ("gitlab-deploy", "gldt-", f"[{_URLSAFE}]{{20,64}}"),
            ("gitlab-feed", "glft-", f"[{_URLSAFE}]{{20,64}}"),
            ("gitlab-scim", "glsoat-", f"[{_URLSAFE}]{{20,64}}"),
            ("gitlab-ci-job", "glcbt-", f"[{_URLSAFE}]{{20,64}}"),
            ("gitlab-incoming-mail", "glimt-", f"[{_URLSAFE}]{{25}}"),
            ("gitlab-agent", "glagent-", f"[{_URLSAFE}]{{50}}"),
            ("gitlab-oauth-secret", "gloas-", f"[{_URLSAFE}]{{64}}"),
        ],
    ),
    *_formats(
        "gitleaks, trufflehog",
        [
            ("slack-bot", "xoxb-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-user", "xoxp-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-app-legacy", "xoxa-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-refresh", "xoxr-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-legacy", "xoxs-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-legacy-workspace", "xoxo-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-config", "xoxe-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-config-access", "xoxe.xoxp-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-app-level", "xapp-", "[A-Za-z0-9\\-]{10,250}"),
            ("slack-webhook", "hooks.slack.com/services/", "[A-Za-z0-9+/_\\-]{20,200}"),
            ("slack-workflow-webhook", "hooks.slack.com/workflows/", "[A-Za-z0-9+/_\\-]{20,200}"),
            ("slack-trigger-webhook", "hooks.slack.com/triggers/", "[A-Za-z0-9+/_\\-]{20,200}"),
            ("stripe-secret-live", "sk_live_", "[A-Za-z0-9]{10,247}"),
            ("stripe-secret-test", "sk_test_", "[A-Za-z0-9]{10,247}"),
            ("stripe-secret-prod", "sk_prod_", "[A-Za-z0-9]{10,247}"),
            ("stripe-restricted-live", "rk_live_", "[A-Za-z0-9]{10,247}"),
            ("stripe-restricted-test", "rk_test_", "[A-Za-z0-9]{10,247}"),
            ("stripe-restricted-prod", "rk_prod_", "[A-Za-z0-9]{10,247}"),
            ("stripe-webhook-secret", "whsec_", "[A-Za-z0-9+/=]{24,128}"),
            ("openai-project", "sk-proj-", f"[{_URLSAFE}]{{20,250}}"),
            ("openai-service-account", "sk-svcacct-", f"[{_URLSAFE}]{{20,250}}"),
            ("openai-admin", "sk-admin-", f"[{_URLSAFE}]{{20,250}}"),
            ("openai-legacy", "sk-", "[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"),
            ("anthropic-api", "sk-ant-api", f"[0-9]{{2}}-[{_URLSAFE}]{{32,200}}"),
            ("anthropic-admin", "sk-ant-admin", f"[0-9]{{2}}-[{_URLSAFE}]{{32,200}}"),
            ("google-api-key", "AIza", f"[{_URLSAFE}]{{35}}"),
            ("google-oauth-access", "ya29.", f"[{_URLSAFE}]{{20,250}}"),
            ("google-oauth-client-secret", "GOCSPX-", f"[{_URLSAFE}]{{28}}"),
            ("aws-access-key-id", "AKIA", "[0-9A-Z]{16}"),
            ("aws-temporary-access-key-id", "ASIA", "[0-9A-Z]{16}"),
            ("aws-bearer-key-id", "ABIA", "[0-9A-Z]{16}"),
            ("aws-context-key-id", "ACCA", "[0-9A-Z]{16}"),
            ("npm", "npm_", _ALNUM36),
            ("pypi", "pypi-AgEIcHlwaS5vcmc", f"[{_URLSAFE}]{{50,250}}"),
            ("sendgrid", "SG.", f"[{_URLSAFE}]{{22}}\\.[{_URLSAFE}]{{43}}"),
            ("digitalocean-pat", "dop_v1_", "[a-f0-9]{64}"),
            ("digitalocean-oauth", "doo_v1_", "[a-f0-9]{64}"),
            ("digitalocean-refresh", "dor_v1_", "[a-f0-9]{64}"),
            ("vault-service", "hvs.", f"[{_URLSAFE}]{{24,250}}"),
            ("vault-batch", "hvb.", f"[{_URLSAFE}]{{24,250}}"),
            ("vault-recovery", "hvr.", f"[{_URLSAFE}]{{24,250}}"),
            ("shopify-access", "shpat_", _HEX32),
            ("shopify-custom-app", "shpca_", _HEX32),
            ("shopify-private-app", "shppa_", _HEX32),
            ("shopify-shared-secret", "shpss_", _HEX32),
            ("twilio-api-key", "SK", _HEX32),
            ("mailgun-private", "key-", "[a-f0-9]{32}"),
            ("heroku-api", "HRKU-", f"[{_URLSAFE}]{{58,64}}"),
            ("age-secret-key", "AGE-SECRET-KEY-1", "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
            ("databricks", "dapi", "[a-f0-9]{32}"),
            ("doppler-personal", "dp.pt.", "[A-Za-z0-9]{40,44}"),
            ("doppler-service", "dp.st.", "[A-Za-z0-9_.\\-]{40,100}"),
            ("doppler-service-account", "dp.sa.", "[A-Za-z0-9]{40,44}"),
            ("doppler-cli", "dp.ct.", "[A-Za-z0-9]{40,44}"),
            ("grafana-cloud", "glc_", "[A-Za-z0-9+/]{32,250}"),
            ("grafana-service-account", "glsa_", "[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
            ("huggingface", "hf_", "[A-Za-z]{34}"),
            ("linear", "lin_api_", "[A-Za-z0-9]{40}"),
            ("postman", "PMAK-", "[a-f0-9]{24}-[a-f0-9]{34}"),
            ("pulumi", "pul-", "[a-f0-9]{40}"),
            ("sentry-org", "sntrys_", "[A-Za-z0-9+/=_\\-]{50,250}"),
            ("sentry-user", "sntryu_", "[a-f0-9]{64}"),
            ("newrelic-user", "NRAK-", "[A-Z0-9]{27}"),
            ("newrelic-insert", "NRII-", "[A-Za-z0-9\\-]{32}"),
            ("atlassian-api", "ATATT3", "[A-Za-z0-9_\\-=]{150,250}"),
            ("dropbox-short-lived", "sl.", f"[{_URLSAFE}]{{130,250}}"),
            ("alibaba-access-key-id", "LTAI", "[A-Za-z0-9]{20}"),
            ("square-access", "sq0atp-", f"[{_URLSAFE}]{{22}}"),
            ("square-oauth-secret", "sq0csp-", f"[{_URLSAFE}]{{43}}"),
            ("square-access-v2", "EAAA", f"[{_URLSAFE}]{{60}}"),
            ("facebook-access", "EAACEdEose0cBA", "[A-Za-z0-9]{20,250}"),
            ("twitter-bearer", "AAAAAAAAAAAAAAAAAAAAA", "[A-Za-z0-9%]{50,250}"),
            ("onepassword-service-account", "ops_eyJ", "[A-Za-z0-9+/=_\\-]{100,250}"),
            ("netlify", "nfp_", _ALNUM36),
            ("flyio-org", "fo1_", f"[{_URLSAFE}]{{43}}"),
            ("flyio-macaroon", "fm2_", "[A-Za-z0-9+/=_\\-]{100,250}"),
            ("planetscale-token", "pscale_tkn_", "[A-Za-z0-9_.\\-]{32,64}"),
            ("planetscale-password", "pscale_pw_", "[A-Za-z0-9_.\\-]{32,64}"),
            ("planetscale-oauth", "pscale_oauth_", "[A-Za-z0-9_.\\-]{32,64}"),
            ("prefect", "pnu_", _ALNUM36),
            ("readme", "rdme_", "[a-z0-9]{70}"),
            ("rubygems", "rubygems_", "[a-f0-9]{48}"),
            ("shippo-live", "shippo_live_", "[a-f0-9]{40}"),
            ("shippo-test", "shippo_test_", "[a-f0-9]{40}"),
            ("terraform-cloud", ".atlasv1.", "[A-Za-z0-9_=\\-]{60,70}"),
            ("typeform", "tfp_", "[A-Za-z0-9_\\-.=]{59}"),
            ("mapbox-secret", "sk.eyJ", f"[{_URLSAFE}]{{20,250}}\\.[{_URLSAFE}]{{20,30}}"),
            ("jfrog", "AKCp", "[A-Za-z0-9]{69}"),
            ("docker-hub-pat", "dckr_pat_", f"[{_URLSAFE}]{{27}}"),
            ("notion", "ntn_", "[A-Za-z0-9]{46}"),
            ("notion-legacy", "secret_", "[A-Za-z0-9]{43}"),
            ("buildkite", "bkua_", "[a-f0-9]{40}"),
            ("circleci-pat", "CCIPAT_", "[A-Za-z0-9]{22}_[a-f0-9]{40}"),
            ("contentful-pat", "CFPAT-", f"[{_URLSAFE}]{{43}}"),
            ("tailscale", "tskey-", "[A-Za-z0-9\\-]{20,120}"),
            ("supabase-pat", "sbp_", "[a-f0-9]{40}"),
            ("supabase-secret", "sb_secret_", f"[{_URLSAFE}]{{31,64}}"),
            ("groq", "gsk_", "[A-Za-z0-9]{52}"),
            ("replicate", "r8_", "[A-Za-z0-9]{37}"),
            ("perplexity", "pplx-", "[A-Za-z0-9]{48}"),
            ("xai", "xai-", "[A-Za-z0-9]{80}"),
            ("langsmith-pat", "lsv2_pt_", "[a-f0-9]{32}_[a-f0-9]{10}"),
            ("langsmith-service", "lsv2_sk_", "[a-f0-9]{32}_[a-f0-9]{10}"),
            ("pinecone", "pcsk_", "[A-Za-z0-9_]{40,80}"),
            ("duffel-live", "duffel_live_", f"[{_URLSAFE}=]{{43}}"),
            ("duffel-test", "duffel_test_", f"[{_URLSAFE}=]{{43}}"),
            ("easypost-api", "EZAK", "[A-Za-z0-9]{54}"),
            ("easypost-test", "EZTK", "[A-Za-z0-9]{54}"),
            ("flutterwave-secret", "FLWSECK-", "[a-hA-H0-9]{32}-X"),
            ("flutterwave-secret-test", "FLWSECK_TEST-", "[a-hA-H0-9]{32}-X"),
            ("frameio", "fio-u-", f"[{_URLSAFE}=]{{64}}"),
            ("airtable-pat", "pat", "[A-Za-z0-9]{14}\\.[a-f0-9]{64}"),
            ("harness-pat", "pat.", f"[{_URLSAFE}]{{22}}\\.[a-f0-9]{{24}}\\.[A-Za-z0-9]{{20}}"),
            ("octopus-deploy", "API-", "[A-Z0-9]{26}"),
            ("cloudflare-origin-ca", "v1.0-", "[a-f0-9]{24}-[a-f0-9]{146}"),
        ],
    ),
    # Bot and webhook tokens inside URLs: the address stays readable.
    *(
        CredentialFormat(name, prefix, body, "gitleaks, trufflehog", keep_prefix=True)
        for name, prefix, body in [
            ("telegram-bot", "api.telegram.org/bot", f"[0-9]{{5,16}}:[{_URLSAFE}]{{30,40}}"),
            (
                "discord-webhook",
                "discord.com/api/webhooks/",
                f"[0-9]{{10,20}}/[{_URLSAFE}]{{60,70}}",
            ),
            (
                "discord-webhook-legacy",
                "discordapp.com/api/webhooks/",
                f"[0-9]{{10,20}}/[{_URLSAFE}]{{60,70}}",
            ),
            ("teams-webhook", "webhook.office.com/webhookb2/", "[A-Za-z0-9@/_.\\-]{40,250}"),
            # Azure storage and Service Bus connection strings: the key's name stays.
            ("azure-storage-account-key", "AccountKey=", "[A-Za-z0-9+/]{40,100}[=]{0,2}"),
            ("azure-shared-access-key", "SharedAccessKey=", "[A-Za-z0-9+/]{40,100}[=]{0,2}"),
        ]
    ),
)


class CredentialScanner:
    """Finds the tokens of a table of formats in a text."""

    def __init__(self, formats: Iterable[CredentialFormat]) -> None:
        self.formats: tuple[CredentialFormat, ...] = tuple(formats)
        #: Every prefix: what a text must contain for any format to match.
        self.prefixes: tuple[str, ...] = tuple(dict.fromkeys(f.prefix for f in self.formats))
        self._finder = literal_finder(self.prefixes)
        # The finder reports the shortest prefix at a place; each such literal
        # maps to the formats whose prefix begins with it, longest first.
        literals = set(self.prefixes)
        by_literal: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
        for form in self.formats:
            literal = min((lit for lit in literals if form.prefix.startswith(lit)), key=len)
            by_literal.setdefault(literal, []).append(
                (len(form.prefix), re.compile(form.pattern()))
            )
        self._by_literal = {
            literal: tuple(p for _, p in sorted(entries, key=lambda e: -e[0]))
            for literal, entries in by_literal.items()
        }
        #: The most formats tried at one place (the cost of a place is bounded by it).
        self.most_tried_at_a_place = max((len(p) for p in self._by_literal.values()), default=0)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The (start, end) of every token in ``text``, in order, not overlapping."""
        found: list[tuple[int, int]] = []
        search, by_literal, size = self._finder.search, self._by_literal, len(text)
        position = 0
        while position < size:
            place = search(text, position)
            if place is None:
                break
            start = place.start()
            for pattern in by_literal[place.group()]:
                token = pattern.match(text, start)
                if token is not None:
                    tail = _TOKEN_TAIL.match(text, token.end())  # always matches (may be empty)
                    end = tail.end() if tail is not None else token.end()
                    found.append((token.start("w"), end))
                    position = end
                    break
            else:
                position = start + 1
        return found
