#!/usr/bin/env python3
"""Builds the attack story's account in moto, either deliberately misconfigured or fixed up.

Usage: build_account.py ENDPOINT_URL misconfigured|fixed

Both accounts hold the same resources; the misconfigured one has exactly the weaknesses the
attack story relied on (see crates/harrier-cli/tests/posture_moto.rs for the expected checks).
"""
import json
import sys

import boto3

REGION = "eu-west-1"


def client(endpoint, service):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def main():
    endpoint, mode = sys.argv[1], sys.argv[2]
    bad = mode == "misconfigured"
    iam = client(endpoint, "iam")
    s3 = client(endpoint, "s3")
    ec2 = client(endpoint, "ec2")
    ecr = client(endpoint, "ecr")
    ct = client(endpoint, "cloudtrail")
    kms = client(endpoint, "kms")
    eks = client(endpoint, "eks")

    # A strong password policy in both accounts (not part of the story).
    iam.update_account_password_policy(MinimumPasswordLength=14, PasswordReusePrevention=24)

    # The CLI user whose keys leaked: two active keys and no MFA when misconfigured.
    iam.create_user(UserName="ci-deploy")
    iam.create_access_key(UserName="ci-deploy")
    if bad:
        iam.create_access_key(UserName="ci-deploy")
    else:
        mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="ci-deploy")
        iam.enable_mfa_device(
            UserName="ci-deploy",
            SerialNumber=mfa["VirtualMFADevice"]["SerialNumber"],
            AuthenticationCode1="123456",
            AuthenticationCode2="654321",
        )

    # An admin group and a service user with an inline iam:* policy.
    iam.create_group(GroupName="Admins")
    iam.create_user(UserName="backup-svc")
    iam.add_user_to_group(GroupName="Admins", UserName="backup-svc")
    if bad:
        iam.attach_group_policy(
            GroupName="Admins", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        )
        action = "iam:*"
    else:
        iam.attach_group_policy(
            GroupName="Admins", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"
        )
        action = "s3:GetObject"
    iam.put_user_policy(
        UserName="backup-svc",
        PolicyName="maintenance",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
            }
        ),
    )

    # A security group open to the world on SSH.
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    cidr = "0.0.0.0/0" if bad else "10.0.0.0/8"
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": cidr}]}
        ],
    )

    # A bucket anyone may write to, without a public access block.
    loc = {"LocationConstraint": REGION}
    s3.create_bucket(Bucket="acme-artifacts", CreateBucketConfiguration=loc)
    owner = s3.get_bucket_acl(Bucket="acme-artifacts")["Owner"]
    grants = [{"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}]
    if bad:
        grants.append(
            {
                "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                "Permission": "WRITE",
            }
        )
    else:
        s3.put_public_access_block(
            Bucket="acme-artifacts",
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    s3.put_bucket_acl(Bucket="acme-artifacts", AccessControlPolicy={"Grants": grants, "Owner": owner})

    # The trail's bucket is private in both accounts.
    s3.create_bucket(Bucket="acme-trail", CreateBucketConfiguration=loc)
    s3.put_public_access_block(
        Bucket="acme-trail",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )

    # An ECR repository whose tags can be overwritten.
    ecr.create_repository(
        repositoryName="web",
        imageTagMutability="MUTABLE" if bad else "IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
    )

    # A customer key without rotation; the trail uses it.
    key = kms.create_key(Description="trail")["KeyMetadata"]
    if not bad:
        kms.enable_key_rotation(KeyId=key["KeyId"])

    # A multi-region trail without log file validation.
    ct.create_trail(
        Name="main",
        S3BucketName="acme-trail",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=not bad,
        KmsKeyId=key["Arn"],
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:{REGION}:123456789012:log-group:trail:*",
        CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/trail",
    )
    ct.start_logging(Name="main")

    # An EKS cluster whose API endpoint is public.
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    eks.create_cluster(
        name="prod",
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={
            "subnetIds": subnets,
            "endpointPublicAccess": bad,
            "endpointPrivateAccess": True,
        },
        logging={"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": True}]},
    )


if __name__ == "__main__":
    main()
