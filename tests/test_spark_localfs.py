"""The local session's file:// file system (c360/localfs): Hadoop's LocalFileSystem with permissions set
in-process (java.nio) instead of a forked ``chmod`` per file and folder."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from c360.settings import Settings
from c360.spark import LOCAL_FS_CLASS, SparkSetupError, local_fs_jar


def _local_fs(spark):
    jvm = spark._jvm
    return jvm.org.apache.hadoop.fs.FileSystem.get(
        jvm.java.net.URI("file:///"), spark._jsc.hadoopConfiguration()
    )


def test_the_local_session_writes_file_uris_through_the_posix_file_system(spark) -> None:
    assert _local_fs(spark).getClass().getName() == LOCAL_FS_CLASS


@pytest.mark.parametrize("mode", ["640", "755", "600", "777", "000", "421"])
def test_set_permission_sets_exactly_the_requested_bits(spark, tmp_path: Path, mode: str) -> None:
    jvm = spark._jvm
    target = tmp_path / "file.txt"
    target.write_text("x")
    _local_fs(spark).setPermission(
        jvm.org.apache.hadoop.fs.Path(target.as_uri()), jvm.org.apache.hadoop.fs.permission.FsPermission(mode)
    )
    assert stat.S_IMODE(os.stat(target).st_mode) == int(mode, 8)


def test_set_permission_on_a_missing_path_is_an_error(spark, tmp_path: Path) -> None:
    jvm = spark._jvm
    missing = jvm.org.apache.hadoop.fs.Path((tmp_path / "missing").as_uri())
    with pytest.raises(Exception, match="NoSuchFileException"):
        _local_fs(spark).setPermission(missing, jvm.org.apache.hadoop.fs.permission.FsPermission("644"))


def test_a_partitioned_write_gets_hadoops_default_permissions_and_reads_back(spark, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    frame = spark.range(200).withColumn("day", (F.col("id") % 7).cast("string"))
    target = tmp_path / "table"
    frame.write.partitionBy("day").parquet(target.as_uri())
    umask = os.umask(0)
    os.umask(umask)
    folders = [p for p in target.iterdir() if p.is_dir()]
    files = [p for folder in folders for p in folder.iterdir()]
    assert len(folders) == 7 and files
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o777 & ~umask}
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~umask}
    back = spark.read.parquet(target.as_uri())
    assert sorted(row.id for row in back.collect()) == list(range(200))


def test_the_jar_is_compiled_once_and_cached(tmp_path: Path) -> None:
    java_home = Settings().java_home
    jar = local_fs_jar(java_home, cache_dir=tmp_path)
    with zipfile.ZipFile(jar) as archive:
        names = set(archive.namelist())
    assert "io/c360/hadoop/PosixLocalFileSystem.class" in names
    assert "io/c360/hadoop/PosixLocalFileSystem$Raw.class" in names
    built = jar.stat().st_mtime_ns
    assert local_fs_jar(java_home, cache_dir=tmp_path) == jar
    assert jar.stat().st_mtime_ns == built
    assert [p.name for p in tmp_path.iterdir()] == [jar.name]  # no compile leftovers


def test_a_java_without_javac_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "jre" / "bin").mkdir(parents=True)
    with pytest.raises(SparkSetupError, match="javac"):
        local_fs_jar(str(tmp_path / "jre"), cache_dir=tmp_path / "cache")


def test_without_a_writable_cache_home_the_jar_goes_to_the_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))  # below a file: mkdir fails, even for root
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    jar = local_fs_jar(Settings().java_home)
    assert jar.parent == tmp_path / "tmp" / f"c360-cache-{os.getuid()}" and jar.exists()
