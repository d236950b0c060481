"""A private network for the source database and what talks to it: two private subnets (no internet gateway, no
NAT), gateway endpoints for S3 and DynamoDB, interface endpoints for the AWS APIs the jobs call, security groups
that allow exactly the database port between the parts, and flow logs into the Log bucket."""

from __future__ import annotations

from infra.cfn import Template, ref, select, sub, tags
from infra.model import BUCKETS, Build

VPC = "Vpc"
SUBNETS = ("PrivateSubnetA", "PrivateSubnetB")
LAMBDA_SG = "LambdaSecurityGroup"
GLUE_SG = "GlueSecurityGroup"
DB_SG = "SourceDbSecurityGroup"
ENDPOINT_SG = "EndpointSecurityGroup"
INTERFACE_ENDPOINTS = ("secretsmanager", "glue", "logs", "kms", "sts")
NO_EGRESS = [
    {
        "IpProtocol": "icmp",
        "FromPort": -1,
        "ToPort": -1,
        "CidrIp": "127.0.0.1/32",
        "Description": "no egress (replaces the default allow-all rule)",
    }
]


def subnet_ids() -> list:
    return [ref(s) for s in SUBNETS]


def add_network(t: Template, build: Build) -> None:
    t.add(
        VPC,
        "AWS::EC2::VPC",
        {
            "CidrBlock": ref("VpcCidr"),
            "EnableDnsHostnames": True,  # interface endpoints resolve with private DNS
            "EnableDnsSupport": True,
            "Tags": tags(Name=sub("c360-${StageName}")),
        },
    )
    for index, subnet in enumerate(SUBNETS):
        t.add(
            subnet,
            "AWS::EC2::Subnet",
            {
                "VpcId": ref(VPC),
                "AvailabilityZone": select(index, {"Fn::GetAZs": ""}),
                "CidrBlock": select(index, {"Fn::Cidr": [ref("VpcCidr"), 4, 8]}),
                "MapPublicIpOnLaunch": False,
                "Tags": tags(Name=sub(f"c360-${{StageName}}-private-{'ab'[index]}")),
            },
        )
        t.add(
            f"{subnet}RouteTableAssociation",
            "AWS::EC2::SubnetRouteTableAssociation",
            {"SubnetId": ref(subnet), "RouteTableId": ref("PrivateRouteTable")},
        )
    t.add(
        "PrivateRouteTable",
        "AWS::EC2::RouteTable",
        {"VpcId": ref(VPC), "Tags": tags(Name=sub("c360-${StageName}-private"))},
    )
    for service in ("s3", "dynamodb"):
        t.add(
            f"{service.capitalize()}GatewayEndpoint",
            "AWS::EC2::VPCEndpoint",
            {
                "VpcId": ref(VPC),
                "ServiceName": sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                "VpcEndpointType": "Gateway",
                "RouteTableIds": [ref("PrivateRouteTable")],
            },
        )
    t.add(
        ENDPOINT_SG,
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "AWS API interface endpoints: HTTPS from inside the VPC",
            "VpcId": ref(VPC),
            "SecurityGroupIngress": [
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "CidrIp": ref("VpcCidr"),
                    "Description": "HTTPS from the VPC",
                }
            ],
            "SecurityGroupEgress": NO_EGRESS,
            "Tags": tags(),
        },
    )
    for service in INTERFACE_ENDPOINTS:
        t.add(
            f"{service.capitalize()}InterfaceEndpoint",
            "AWS::EC2::VPCEndpoint",
            {
                "VpcId": ref(VPC),
                "ServiceName": sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                "VpcEndpointType": "Interface",
                "PrivateDnsEnabled": True,
                "SubnetIds": subnet_ids(),
                "SecurityGroupIds": [ref(ENDPOINT_SG)],
            },
        )
    add_security_groups(t)
    t.add(
        "VpcFlowLog",
        "AWS::EC2::FlowLog",
        {
            "ResourceId": ref(VPC),
            "ResourceType": "VPC",
            "TrafficType": "ALL",
            "LogDestinationType": "s3",
            "LogDestination": sub(f"arn:${{AWS::Partition}}:s3:::${{{BUCKETS['log']}}}/vpc-flow-logs/"),
            "Tags": tags(),
        },
        depends_on=[f"{BUCKETS['log']}Policy"],
    )


def add_security_groups(t: Template) -> None:
    https_out = {
        "IpProtocol": "tcp",
        "FromPort": 443,
        "ToPort": 443,
        "CidrIp": "0.0.0.0/0",
        "Description": "HTTPS to the VPC endpoints (the subnets have no route to the internet)",
    }
    t.add(
        LAMBDA_SG,
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "Lambda functions that write the source database",
            "VpcId": ref(VPC),
            "SecurityGroupEgress": [https_out],
            "Tags": tags(),
        },
    )
    t.add(
        GLUE_SG,
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "Glue jobs on the JDBC connection (Glue needs all TCP between its own workers)",
            "VpcId": ref(VPC),
            "SecurityGroupEgress": [https_out],
            "Tags": tags(),
        },
    )
    t.add(
        DB_SG,
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "The Aurora PostgreSQL source database: PostgreSQL from the writers and Glue only",
            "VpcId": ref(VPC),
            "SecurityGroupEgress": NO_EGRESS,
            "Tags": tags(),
        },
    )
    t.add(
        "GlueSelfIngress",
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": ref(GLUE_SG),
            "SourceSecurityGroupId": ref(GLUE_SG),
            "IpProtocol": "tcp",
            "FromPort": 0,
            "ToPort": 65535,
            "Description": "Glue workers talk to each other",
        },
    )
    t.add(
        "GlueSelfEgress",
        "AWS::EC2::SecurityGroupEgress",
        {
            "GroupId": ref(GLUE_SG),
            "DestinationSecurityGroupId": ref(GLUE_SG),
            "IpProtocol": "tcp",
            "FromPort": 0,
            "ToPort": 65535,
            "Description": "Glue workers talk to each other",
        },
    )
    for client in (LAMBDA_SG, GLUE_SG):
        short = client.removesuffix("SecurityGroup")
        t.add(
            f"{short}ToSourceDbEgress",
            "AWS::EC2::SecurityGroupEgress",
            {
                "GroupId": ref(client),
                "DestinationSecurityGroupId": ref(DB_SG),
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "Description": "PostgreSQL to the source database",
            },
        )
        t.add(
            f"SourceDbFrom{short}Ingress",
            "AWS::EC2::SecurityGroupIngress",
            {
                "GroupId": ref(DB_SG),
                "SourceSecurityGroupId": ref(client),
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "Description": f"PostgreSQL from the {short} security group",
            },
        )
