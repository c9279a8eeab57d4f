"""--auth mapping (by type only: no credential chain runs) and the Azure CLI path through a stand-in `az`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from azure.identity import (
    AzureCliCredential,
    DefaultAzureCredential,
    EnvironmentCredential,
    ManagedIdentityCredential,
)

from egress.adapters.azure import AUTH_METHODS, AzureApiError, NsgClient, make_credential
from egress.errors import UsageError
from tests.armdouble import ArmDouble
from tests.armdouble.plugin import FakeAz


@pytest.fixture(autouse=True)
def _no_ambient_azure_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST",
                 "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("auth", "kind"),
    [
        ("default", DefaultAzureCredential),
        ("cli", AzureCliCredential),
        ("environment", EnvironmentCredential),
        ("managed-identity", ManagedIdentityCredential),
        (" CLI ", AzureCliCredential),
    ],
)
def test_auth_methods_map_to_azure_identity_types(auth: str, kind: type) -> None:
    credential = make_credential(auth, "login.microsoftonline.us")
    try:
        assert type(credential) is kind
    finally:
        credential.close()
    assert set(AUTH_METHODS) == {"default", "cli", "environment", "managed-identity"}


def test_unknown_auth_method() -> None:
    with pytest.raises(UsageError, match="unknown --auth 'browser'"):
        make_credential("browser", "login.microsoftonline.com")


def test_cli_credential_reads_the_token_az_prints(
    make_client: Callable[..., NsgClient], seeded: ArmDouble, fake_az: FakeAz
) -> None:
    client = make_client(credential=make_credential("cli", "login.microsoftonline.com"))
    doc, _ = client.get()
    assert doc["name"] == "nsg-vm1"
    assert seeded.requests[-1].token == fake_az.token
    (call,) = fake_az.calls()
    assert call[:2] == ["account", "get-access-token"]
    assert call[call.index("--resource") + 1] == "https://management.azure.com"


def test_cli_not_logged_in_is_a_clear_error(
    make_client: Callable[..., NsgClient], seeded: ArmDouble, fake_az: FakeAz
) -> None:
    fake_az.fail_with("ERROR: Please run 'az login' to setup account.\n")
    client = make_client(credential=make_credential("cli", "login.microsoftonline.com"))
    with pytest.raises(AzureApiError, match=r"could not get an Azure access token: .*az login"):
        client.get()
    assert seeded.requests == []  # nothing was sent without a token
