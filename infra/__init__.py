"""c360 on AWS as code: a small Python spec (``infra/spec.py``) rendered to one CloudFormation template.

``python -m infra`` (run by ``make package``) reads the repository (which stage scripts, handlers and pipeline steps
exist) and the artifact manifest of ``c360.packaging``, and writes ``dist/infra/c360.yaml``. See infra/README.md.
"""
