"""The local SparkSession: one JVM for every stage job of a run (on AWS, Glue and EMR provide their own)."""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from c360.settings import Settings
from spark_jobs.common.session import configure

LOG4J = Path(__file__).with_name("log4j2.properties").as_uri()


class SparkSetupError(RuntimeError):
    """Spark cannot start here (usually: no Java 17)."""


def _check_java(java_home: str) -> None:
    java = Path(java_home) / "bin" / "java"
    if not java.exists():
        raise SparkSetupError(
            f"Java 17 is needed for Spark 3.5 but {java} does not exist. Install it (Debian: "
            "apt-get install openjdk-17-jdk-headless) or set JAVA_HOME to a Java 17 installation."
        )


def local_session(settings: Settings) -> SparkSession:
    """Start (or reuse) the local session with settings that suit a laptop and a 2-core CI machine."""
    _check_java(settings.java_home)
    os.environ["JAVA_HOME"] = settings.java_home
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName("c360-stage")
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.warehouse.dir", str(Path(settings.lake) / "logs" / "spark-warehouse"))
        .config(
            "spark.driver.extraJavaOptions", f"-Dderby.system.home=/tmp -Dlog4j2.configurationFile={LOG4J}"
        )
    )
    jdbc = Path("/usr/share/java/postgresql.jar")
    if jdbc.exists():
        builder = builder.config("spark.jars", str(jdbc))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    configure(spark)
    return spark
