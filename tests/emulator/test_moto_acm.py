"""moto_acm.py: a re-imported certificate keeps its tags; a certificate a listener uses is in use.

Run: /work/main/.venv/bin/python -m unittest tests/emulator/test_moto_acm.py
"""

import datetime
import os
import sys
import unittest

import boto3
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_acm  # noqa: E402


def self_signed(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class Acm(unittest.TestCase):
    def setUp(self):
        originals = {name: getattr(moto_acm.AWSCertificateManagerBackend, name)
                     for name in ("import_certificate", "get_certificate", "delete_certificate")}
        moto_acm.apply()
        for name, original in originals.items():
            self.addCleanup(setattr, moto_acm.AWSCertificateManagerBackend, name, original)

    @mock_aws
    def test_a_reimport_keeps_the_tags(self):
        acm = boto3.client("acm", region_name="us-east-1")
        cert, key = self_signed("lb.example")
        arn = acm.import_certificate(Certificate=cert, PrivateKey=key,
                                     Tags=[{"Key": "weka_alb_certificate", "Value": "prod"}])[
            "CertificateArn"]
        cert, key = self_signed("alias.example")
        again = acm.import_certificate(CertificateArn=arn, Certificate=cert, PrivateKey=key)
        self.assertEqual(again["CertificateArn"], arn)
        self.assertEqual(acm.list_tags_for_certificate(CertificateArn=arn)["Tags"],
                         [{"Key": "weka_alb_certificate", "Value": "prod"}])
        self.assertEqual(acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainName"],
                         "alias.example")

    @mock_aws
    def test_a_certificate_a_listener_uses_cannot_be_deleted_until_the_listener_goes(self):
        acm = boto3.client("acm", region_name="us-east-1")
        ec2 = boto3.client("ec2", region_name="us-east-1")
        elb = boto3.client("elbv2", region_name="us-east-1")
        cert, key = self_signed("lb.example")
        arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                     AvailabilityZone=f"us-east-1{az}")["Subnet"]["SubnetId"]
                   for i, az in ((1, "a"), (2, "b"))]
        lb = elb.create_load_balancer(Name="lb", Subnets=subnets, Scheme="internal")[
            "LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name="tg", Protocol="HTTPS", Port=14000, VpcId=vpc)[
            "TargetGroups"][0]["TargetGroupArn"]
        listener = elb.create_listener(
            LoadBalancerArn=lb, Protocol="HTTPS", Port=14000, Certificates=[{"CertificateArn": arn}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])["Listeners"][0]["ListenerArn"]
        self.assertEqual(acm.describe_certificate(CertificateArn=arn)["Certificate"]["InUseBy"], [lb])
        with self.assertRaises(ClientError) as refused:
            acm.delete_certificate(CertificateArn=arn)
        self.assertEqual(refused.exception.response["Error"]["Code"], "ResourceInUseException")
        elb.delete_listener(ListenerArn=listener)
        self.assertEqual(acm.describe_certificate(CertificateArn=arn)["Certificate"]["InUseBy"], [])
        acm.delete_certificate(CertificateArn=arn)
        self.assertEqual(acm.list_certificates()["CertificateSummaryList"], [])


if __name__ == "__main__":
    unittest.main()
