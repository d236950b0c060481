"""Local stand-ins for the services the pipeline talks to on AWS."""
