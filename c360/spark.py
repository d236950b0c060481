"""The local SparkSession: one JVM for every stage job of a run (on AWS, Glue and EMR provide their own)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

from pyspark.sql import SparkSession

from c360.settings import Settings
from spark_jobs.common.session import configure

LOG4J = Path(__file__).with_name("log4j2.properties").as_uri()
LOCAL_FS_SOURCE = Path(__file__).with_name("localfs") / "PosixLocalFileSystem.java"
LOCAL_FS_CLASS = "io.c360.hadoop.PosixLocalFileSystem"
"""The ``file://`` file system of the local session: Hadoop's, with permissions set in-process (see the source)."""


class SparkSetupError(RuntimeError):
    """Spark cannot start here (usually: no Java 17)."""


def _check_java(java_home: str) -> None:
    java = Path(java_home) / "bin" / "java"
    if not java.exists():
        raise SparkSetupError(
            f"Java 17 is needed for Spark 3.5 but {java} does not exist. Install it (Debian: "
            "apt-get install openjdk-17-jdk-headless) or set JAVA_HOME to a Java 17 installation."
        )


def _hadoop_api_jar() -> Path:
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    if not jars:
        raise SparkSetupError("pyspark's jars/hadoop-client-api-*.jar is missing: reinstall pyspark")
    return jars[-1]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "c360"


def local_fs_jar(java_home: str, cache_dir: Path | None = None) -> Path:
    """The jar of :data:`LOCAL_FS_CLASS`, compiled with ``java_home``'s ``javac`` against pyspark's Hadoop on
    first use and cached (keyed by the source, the Hadoop jar and the JDK: a change of any compiles it again)."""
    api = _hadoop_api_jar()
    source = LOCAL_FS_SOURCE.read_bytes()
    jdk = str(Path(java_home).resolve()).encode()
    key = hashlib.sha256(source + api.name.encode() + jdk).hexdigest()[:16]
    cache = cache_dir or _cache_dir()
    if cache_dir is None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError:  # no writable home (a container, a CI sandbox): the temporary directory instead
            cache = Path(tempfile.gettempdir()) / f"c360-cache-{os.getuid()}"
    jar = cache / f"c360-localfs-{key}.jar"
    if jar.exists():
        return jar
    javac = Path(java_home) / "bin" / "javac"
    if not javac.exists():
        raise SparkSetupError(
            f"{javac} does not exist: the local Spark session compiles a small Hadoop file system class "
            "(c360/localfs) with the JDK's javac. Install the JDK (Debian: apt-get install "
            "openjdk-17-jdk-headless) or point C360_JAVA_HOME at a Java 17 JDK."
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        classes = Path(work) / "classes"
        compiled = subprocess.run(
            [str(javac), "-nowarn", "-cp", str(api), "-d", str(classes), str(LOCAL_FS_SOURCE)],
            capture_output=True,
            text=True,
        )
        if compiled.returncode != 0:
            raise SparkSetupError(f"javac could not compile {LOCAL_FS_SOURCE}:\n{compiled.stderr.strip()}")
        partial = Path(work) / jar.name
        with zipfile.ZipFile(partial, "w") as archive:
            for path in sorted(classes.rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
        os.replace(partial, jar)  # atomic: a concurrent start sees no jar or a whole one
    return jar


JIT_OPTIONS = (
    "-XX:Tier4InvocationThreshold=50000 -XX:Tier4MinInvocationThreshold=6000"
    " -XX:Tier4CompileThreshold=150000 -XX:Tier4BackEdgeThreshold=400000"
)
"""HotSpot's thresholds for its second compiler (C2), ten times the defaults: a stage step is short and runs
each of its many plans (and Spark's code generated for them) a few times, and with the defaults C2 spent a third
of the JVM's CPU in a full scale-1 stage (51-54 of 149-157 s) compiling code that then hardly ran. Code that stays
hot (the rows of GA's parse, the transactions' extract) still reaches C2; the rest runs as C1 compiled it. The
first compiler alone (``TieredStopAtLevel=1``) was slower: the heavy jobs need C2 (BENCHMARKS.md)."""

QUICK_JIT_OPTIONS = "-XX:TieredStopAtLevel=1"
"""HotSpot's first compiler (C1) alone, for a stage that reads little (an incremental day: see
:func:`c360.pipeline.stage_input_is_small`). Such a run is the JVM's warm-up more than its data: Spark plans, compiles
and serializes a few hundred small queries, and with both compilers the JVM spent 25 of a scale-1 day's 36 s of
compile time on them (C2 18 s, C1's profiled code 7 s) beside the work on 2 cores. C1 alone compiles less and its
code runs without profiling: a day's stage 9-15% shorter at scales 1 and 10. A full stage takes 15-30% longer
(GA's parse and the transactions' extract need C2), and so does a day at scale 100 (its merges with tables of
500,000 rows), hence only for small input (BENCHMARKS.md, twenty-fourth session)."""


def local_session(settings: Settings, small_input: bool = False) -> SparkSession:
    """Start (or reuse) the local session with settings that suit a laptop and a 2-core CI machine. A new JVM
    compiles with :data:`QUICK_JIT_OPTIONS` when ``small_input`` (the stage ahead reads little), else with
    :data:`JIT_OPTIONS`; a session already running is reused as it is."""
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
        # Cached blocks that spill to disk are compressed (lz4): GA's parsed sessions are cached once per batch,
        # and beyond memory they would otherwise take their full size on the local disk (GBs from scale 10 up).
        .config("spark.rdd.compress", "true")
        .config("spark.sql.warehouse.dir", str(Path(settings.lake) / "logs" / "spark-warehouse"))
        .config(
            "spark.driver.extraJavaOptions",
            # The parallel collector: batch jobs, throughput over pause times (~4% less stage time than G1).
            f"-Dderby.system.home=/tmp -Dlog4j2.configurationFile={LOG4J} -XX:+UseParallelGC "
            + (QUICK_JIT_OPTIONS if small_input else JIT_OPTIONS),
        )
        .config("spark.driver.extraClassPath", str(local_fs_jar(settings.java_home)))
        .config("spark.hadoop.fs.file.impl", LOCAL_FS_CLASS)
    )
    jdbc = Path("/usr/share/java/postgresql.jar")
    if jdbc.exists():
        builder = builder.config("spark.jars", str(jdbc))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    configure(spark)
    return spark


def start_in_background(settings: Settings) -> threading.Thread:
    """Start the local session on a thread, so that the JVM's start overlaps other work (``c360 run`` starts it
    while the sources are generated); :func:`local_session` then returns it (``getOrCreate`` waits for a start in
    progress). A start that fails here is left to fail again, with its error, when the stage asks for the session."""

    def start() -> None:
        with contextlib.suppress(Exception):  # the stage's own local_session() call reports it
            local_session(settings)

    thread = threading.Thread(target=start, name="c360-spark-start", daemon=True)
    thread.start()
    return thread


def session_running() -> bool:
    """Whether this process has a SparkContext running (``c360 run`` stops only the session it started)."""
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


def stop_local_session() -> None:
    """Stop the local session and end its JVM. ``SparkSession.stop`` alone leaves py4j's JVM process running with
    its heap (4.7 GB at scale 100) through whatever the process does next: in ``c360 run``, the dbt build and the
    export. The JVM ends when its standard input closes (pyspark's gateway server waits for that); a later
    :func:`local_session` starts a new one."""
    from pyspark import SparkContext

    # The session of the process, not the calling thread's: `getActiveSession` answers per thread, and `c360 run`
    # stops on a thread of its own. A context left unstopped kept its accumulator server polling a JVM that then
    # ended (an EOFError traceback at the end of every run's stage), and would be handed out again, dead.
    session = SparkSession._instantiatedSession or SparkSession.getActiveSession()
    if session is not None:
        session.stop()
    elif SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):  # a JVM that already died
        gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if process is None:
        return
    with contextlib.suppress(OSError):
        process.stdin.close()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
