#!/usr/bin/env python3
"""Fills a moto account with many resources for the posture benchmark.

Usage: populate_many.py ENDPOINT_URL [SCALE]   (SCALE 1 = about 1,200 resources)
"""
import sys

import boto3

REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]


def client(endpoint, service, region):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def main():
    endpoint = sys.argv[1]
    scale = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    n = 0
    iam = client(endpoint, "iam", "us-east-1")
    for i in range(300 * scale):
        iam.create_user(UserName=f"user{i}")
        iam.create_access_key(UserName=f"user{i}")
        n += 2
    s3 = client(endpoint, "s3", "us-east-1")
    for i in range(100 * scale):
        s3.create_bucket(Bucket=f"bench-bucket-{i}")
        n += 1
    for r in REGIONS:
        ec2 = client(endpoint, "ec2", r)
        vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
        for i in range(100 * scale):
            g = ec2.create_security_group(GroupName=f"sg{i}", Description="b", VpcId=vpc)["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=g, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            n += 1
        ecr = client(endpoint, "ecr", r)
        for i in range(50 * scale):
            ecr.create_repository(repositoryName=f"repo{i}")
            n += 1
        kms = client(endpoint, "kms", r)
        for i in range(30 * scale):
            kms.create_key(Description=f"k{i}")
            n += 1
    print(f"{n} resources")


if __name__ == "__main__":
    main()
