"""Sets up moto_server for the image supply-chain tests.

usage: supply.py ENDPOINT COMMAND ARGS...   (prints JSON on stdout)

  setup BUCKET                     a CloudTrail bucket and two queues: "trail" (S3 notifications)
                                   and "ecr" (EventBridge events)
  trail BUCKET QUEUE_URL KEY FILE  FILE (a CloudTrail log file) gzipped under KEY, and its S3
                                   notification sent to QUEUE_URL
  send QUEUE_URL BODY              one message with BODY as is
  ecs IMAGE                        a cluster "prod" with one container instance running a task of
                                   IMAGE (EC2 launch type: moto's Fargate tasks fail on awsvpc)
"""
import gzip
import json
import os
import sys

import boto3

ENDPOINT = sys.argv[1]
CMD = sys.argv[2]
ARGS = sys.argv[3:]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name="us-east-1")


if CMD == "setup":
    client("s3").create_bucket(Bucket=ARGS[0])
    sqs = client("sqs")
    out = {q: sqs.create_queue(QueueName=q)["QueueUrl"] for q in ("trail", "ecr")}
    print(json.dumps(out))
elif CMD == "trail":
    bucket, queue, key, path = ARGS
    with open(path, "rb") as fh:
        client("s3").put_object(Bucket=bucket, Key=key, Body=gzip.compress(fh.read()))
    event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                          "eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]}
    client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    print(json.dumps({"key": key}))
elif CMD == "send":
    client("sqs").send_message(QueueUrl=ARGS[0], MessageBody=ARGS[1])
    print("{}")
elif CMD == "ecs":
    ec2 = client("ec2")
    inst = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ecs = client("ecs")
    ecs.create_cluster(clusterName="prod")
    ecs.register_container_instance(
        cluster="prod", instanceIdentityDocument=json.dumps({"instanceId": inst, "region": "us-east-1"}))
    ecs.register_task_definition(family="web", containerDefinitions=[
        {"name": "web", "image": ARGS[0], "essential": True, "memoryReservation": 512}])
    tasks = ecs.run_task(cluster="prod", taskDefinition="web", launchType="EC2", count=1)["tasks"]
    print(json.dumps({"task": tasks[0]["taskArn"]}))
else:
    sys.exit(f"unknown command {CMD}")
