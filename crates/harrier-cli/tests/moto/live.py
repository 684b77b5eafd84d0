"""Sets up and reads back AWS resources in moto_server for the live-source tests.

usage: live.py ENDPOINT COMMAND ARGS...   (prints JSON on stdout)

  bucket BUCKET SHARED_DIR STORY     CloudTrail bucket in the real key layout: the Invictus IR
                                     files of SHARED_DIR (account 218007301253) and STORY under an
                                     organisation trail (account 111122223333), gzipped, plus a
                                     digest file and a non-log object that must not be read
  queue NAME [MAX_RECEIVE]           queue with a dead-letter queue (maxReceiveCount, default 1)
  topic NAME QUEUE_URL               SNS topic with QUEUE_URL subscribed
  send QUEUE_URL BODY                one message with BODY as is
  publish TOPIC_ARN MESSAGE          one SNS message
  counts QUEUE_URL                   visible and in-flight messages
  drain QUEUE_URL                    every message body (deleted)
  findings [REGION]                  Security Hub finding ids (default us-east-1)
  put BUCKET KEY FILE                FILE gzipped as KEY
  logs GROUP STREAM FILE [SHIFT_S]   put FILE's records (CloudTrail file) as log events, stamped
                                     now - SHIFT_S seconds
"""
import gzip
import json
import os
import sys
import time

import boto3

ENDPOINT = sys.argv[1]
CMD = sys.argv[2]
ARGS = sys.argv[3:]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def client(name, region="us-east-1"):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name=region)


def bucket(name, shared, story):
    s3 = client("s3")
    s3.create_bucket(Bucket=name)
    keys = []
    inv = os.path.join(shared, "corpus/cloudtrail/invictus-ir")
    for f in sorted(os.listdir(inv)):
        if not f.endswith(".json"):
            continue
        # 218007301253_CloudTrail_us-east-1_20230710T1145Z_x.json
        stamp = f.split("_")[3]
        y, m, d = stamp[0:4], stamp[4:6], stamp[6:8]
        key = f"AWSLogs/218007301253/CloudTrail/us-east-1/{y}/{m}/{d}/{f}.gz"
        with open(os.path.join(inv, f), "rb") as fh:
            s3.put_object(Bucket=name, Key=key, Body=gzip.compress(fh.read()))
        keys.append(key)
    story_key = ("AWSLogs/o-exampleorg1/111122223333/CloudTrail/us-east-1/2026/11/20/"
                 "111122223333_CloudTrail_us-east-1_20261120T1015Z_story.json.gz")
    with open(story, "rb") as fh:
        s3.put_object(Bucket=name, Key=story_key, Body=gzip.compress(fh.read()))
    # Neither of these may be read: a digest (not events) and a note.
    s3.put_object(Bucket=name,
                  Key="AWSLogs/218007301253/CloudTrail-Digest/us-east-1/2023/07/10/"
                      "218007301253_CloudTrail-Digest_us-east-1_t_us-east-1_20230710T1200Z.json.gz",
                  Body=b"not json at all")
    s3.put_object(Bucket=name, Key="README.txt", Body=b"hello")
    return {"invictus": keys, "story": story_key}


def queue(name, max_receive="1"):
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}),
    })["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn, "dlq": dlq}


def topic(name, queue_url):
    sns = client("sns")
    sqs = client("sqs")
    arn = sns.create_topic(Name=name)["TopicArn"]
    qarn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    return {"arn": arn}


def counts(url):
    a = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return {"visible": int(a["ApproximateNumberOfMessages"]),
            "in_flight": int(a["ApproximateNumberOfMessagesNotVisible"])}


def drain(url):
    sqs = client("sqs")
    out = []
    while True:
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        ms = r.get("Messages", [])
        if not ms:
            return out
        for m in ms:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def findings(region="us-east-1"):
    sh = client("securityhub", region)
    ids = []
    token = None
    while True:
        kw = {"MaxResults": 100}
        if token:
            kw["NextToken"] = token
        r = sh.get_findings(**kw)
        ids += [f["Id"] for f in r["Findings"]]
        token = r.get("NextToken")
        if not token:
            return ids


def logs(group, stream, path, shift=0):
    cw = client("logs")
    try:
        cw.create_log_group(logGroupName=group)
    except cw.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        cw.create_log_stream(logGroupName=group, logStreamName=stream)
    except cw.exceptions.ResourceAlreadyExistsException:
        pass
    with open(path) as fh:
        doc = json.load(fh)
    records = doc["Records"] if isinstance(doc, dict) else doc
    now = int(time.time() * 1000) - int(shift) * 1000
    events = [{"timestamp": now + i, "message": json.dumps(r)} for i, r in enumerate(records)]
    cw.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return {"events": len(events)}


if CMD == "bucket":
    res = bucket(*ARGS)
elif CMD == "queue":
    res = queue(*ARGS)
elif CMD == "topic":
    res = topic(*ARGS)
elif CMD == "send":
    client("sqs").send_message(QueueUrl=ARGS[0], MessageBody=ARGS[1])
    res = {}
elif CMD == "publish":
    client("sns").publish(TopicArn=ARGS[0], Message=ARGS[1])
    res = {}
elif CMD == "counts":
    res = counts(ARGS[0])
elif CMD == "drain":
    res = drain(ARGS[0])
elif CMD == "findings":
    res = findings(*ARGS)
elif CMD == "logs":
    res = logs(*ARGS)
elif CMD == "put":
    with open(ARGS[2], "rb") as fh:
        client("s3").put_object(Bucket=ARGS[0], Key=ARGS[1], Body=gzip.compress(fh.read()))
    res = {}
else:
    sys.exit(f"unknown command {CMD}")
print(json.dumps(res))
