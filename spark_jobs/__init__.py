"""PySpark stage jobs: the same scripts run locally (``c360 stage``), as AWS Glue 5.0 jobs and as EMR 7 steps.

Each job module has ``run(spark, lake, ...)`` (the work, given a session) and ``main(argv)`` (the script entry
point that parses Glue-style ``--KEY value`` arguments). The jobs depend only on PySpark and the standard library,
so Glue ships them with ``--extra-py-files`` and nothing else.
"""
