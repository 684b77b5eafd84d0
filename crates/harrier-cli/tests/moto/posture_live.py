"""Makes the attack story's misconfigurations in moto, one at a time, for the continuous
posture test (the account itself comes from build_account.py ENDPOINT fixed).

usage: posture_live.py ENDPOINT COMMAND ARGS...   (prints JSON on stdout)

  queue                          a CloudTrail bucket ("trail-drop") and a notification queue
  trail QUEUE_URL KEY FILE       FILE (a CloudTrail log file) gzipped under KEY in trail-drop,
                                 and its S3 notification sent to QUEUE_URL
  open-sg                        security group "web" opened to 0.0.0.0/0 on every port
  close-sg                       that rule revoked
  public-bucket                  acme-artifacts: public access block deleted, AllUsers may write
  iam-backdoor                   a user "backup-admin" with an access key and an inline iam:* policy
  ecr-mutable                    the "web" repository's tags made mutable
"""
import gzip
import json
import os
import sys

import boto3

ENDPOINT, CMD, ARGS = sys.argv[1], sys.argv[2], sys.argv[3:]
REGION = "eu-west-1"


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def web_sg():
    ec2 = client("ec2")
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])
    return groups["SecurityGroups"][0]["GroupId"]


WORLD = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]

if CMD == "queue":
    client("s3").create_bucket(Bucket="trail-drop", CreateBucketConfiguration={"LocationConstraint": REGION})
    print(json.dumps({"queue": client("sqs").create_queue(QueueName="trail")["QueueUrl"]}))
elif CMD == "trail":
    queue, key, path = ARGS
    with open(path, "rb") as fh:
        client("s3").put_object(Bucket="trail-drop", Key=key, Body=gzip.compress(fh.read()))
    event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                          "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": "trail-drop"}, "object": {"key": key}}}]}
    client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    print(json.dumps({"key": key}))
elif CMD == "open-sg":
    sg = web_sg()
    client("ec2").authorize_security_group_ingress(GroupId=sg, IpPermissions=WORLD)
    print(json.dumps({"group": sg}))
elif CMD == "close-sg":
    sg = web_sg()
    client("ec2").revoke_security_group_ingress(GroupId=sg, IpPermissions=WORLD)
    print(json.dumps({"group": sg}))
elif CMD == "public-bucket":
    s3 = client("s3")
    s3.delete_public_access_block(Bucket="acme-artifacts")
    owner = s3.get_bucket_acl(Bucket="acme-artifacts")["Owner"]
    grants = [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
               "Permission": "WRITE"}]
    s3.put_bucket_acl(Bucket="acme-artifacts", AccessControlPolicy={"Grants": grants, "Owner": owner})
    print(json.dumps({"bucket": "acme-artifacts"}))
elif CMD == "iam-backdoor":
    iam = client("iam")
    iam.create_user(UserName="backup-admin")
    iam.create_access_key(UserName="backup-admin")
    iam.put_user_policy(UserName="backup-admin", PolicyName="maintenance", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    print(json.dumps({"user": "backup-admin"}))
elif CMD == "ecr-mutable":
    client("ecr").put_image_tag_mutability(repositoryName=ARGS[0] if ARGS else "web", imageTagMutability="MUTABLE")
    print(json.dumps({"repository": ARGS[0] if ARGS else "web"}))
else:
    sys.exit(f"unknown command {CMD}")
