"""Source simulators: each module generates one source system's batch and is also an AWS Lambda handler."""
