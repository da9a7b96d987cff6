"""moto patch: ACM keeps what AWS keeps and refuses what AWS refuses, for an imported certificate.

- A re-import (`ImportCertificate` with `CertificateArn`) keeps the certificate's tags, as on AWS
  (a re-import cannot carry tags; moto replaced the whole certificate and dropped them, so a
  deployment could no longer find its own certificate by its tag after one renewal).
- A certificate an Elastic Load Balancing v2 listener uses is "in use": `DescribeCertificate`
  names the load balancers in `InUseBy`, and `DeleteCertificate` answers
  `ResourceInUseException` until no listener uses it (moto deleted it from under the listener,
  so a destroy that deleted the certificate before the listener passed here and fails on AWS).
"""

from typing import Any

from moto.acm.models import AWSCertificateManagerBackend
from moto.core.exceptions import AWSError
from moto.elbv2.models import elbv2_backends


class ResourceInUse(AWSError):
    TYPE = "ResourceInUseException"


_import = AWSCertificateManagerBackend.import_certificate
_get = AWSCertificateManagerBackend.get_certificate
_delete = AWSCertificateManagerBackend.delete_certificate


def _users(backend: AWSCertificateManagerBackend, arn: str) -> list[str]:
    """Load balancers whose listeners use certificate `arn`, in this account and region."""
    try:
        elbv2 = elbv2_backends[backend.account_id][backend.region_name]
    except KeyError:
        return []
    users = []
    for lb in elbv2.load_balancers.values():
        for listener in lb.listeners.values():
            certificates = [c if isinstance(c, str) else c.get("CertificateArn") for c in listener.certificates]
            if arn in certificates and lb.arn not in users:
                users.append(lb.arn)
    return users


def _import_keeping_tags(self, certificate, private_key, chain, arn, tags):
    kept: dict[str, Any] = {}
    if arn is not None and arn in self._certificates:
        kept = dict(self._certificates[arn].tags)
    result = _import(self, certificate, private_key, chain, arn, tags)
    if kept:
        self._certificates[result].tags.update(kept)
    return result


def _get_with_users(self, arn: str):
    bundle = _get(self, arn)
    bundle.in_use_by = _users(self, arn)
    return bundle


def _delete_unless_used(self, arn: str) -> None:
    if arn in self._certificates:
        users = _users(self, arn)
        if users:
            raise ResourceInUse(message=f"Certificate {arn} in use by {', '.join(users)}")
    _delete(self, arn)


def apply() -> None:
    AWSCertificateManagerBackend.import_certificate = _import_keeping_tags
    AWSCertificateManagerBackend.get_certificate = _get_with_users
    AWSCertificateManagerBackend.delete_certificate = _delete_unless_used
