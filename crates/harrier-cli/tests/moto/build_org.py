"""Builds an AWS organisation in moto for the organisation scan test.

usage: build_org.py ENDPOINT MEMBERS   (prints JSON on stdout)

Creates the organisation and MEMBERS accounts. In every member but the last, through
OrganizationAccountAccessRole: a role HarrierAudit (external id "harrier-ext") and one planted
misconfiguration, a security group open to the world on SSH in eu-west-1. The last member has
no HarrierAudit role. Prints {"members": [{"id", "name", "sg"}...], "missing": id}.
"""
import json
import sys

import boto3

ENDPOINT, N = sys.argv[1], int(sys.argv[2])
REGION = "eu-west-1"
KW = dict(endpoint_url=ENDPOINT, region_name=REGION,
          aws_access_key_id="testing", aws_secret_access_key="testing")

org = boto3.client("organizations", **KW)
org.create_organization(FeatureSet="ALL")
sts = boto3.client("sts", **KW)
trust = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "harrier-ext"}}}]})
members = []
for i in range(N):
    name = f"member-{i:02d}"
    acct = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
    entry = {"id": acct, "name": name}
    if i < N - 1:
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{acct}:role/OrganizationAccountAccessRole",
                            RoleSessionName="setup")["Credentials"]
        ck = dict(endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
                  aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
        boto3.client("iam", **ck).create_role(RoleName="HarrierAudit", AssumeRolePolicyDocument=trust)
        ec2 = boto3.client("ec2", **ck)
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        sg = ec2.create_security_group(GroupName=f"ssh-{i:02d}", Description="planted", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        entry["sg"] = sg
    members.append(entry)
print(json.dumps({"members": members, "missing": members[-1]["id"]}))
