/*
 * The local file system of c360's local SparkSession (c360/spark.py): Hadoop's own, except that permissions are
 * set through java.nio instead of a forked `chmod`.
 *
 * Without Hadoop's native library (pyspark ships none), RawLocalFileSystem.setPermission runs `chmod` in a child
 * process, and a Spark write calls it for every file, checksum file and folder it creates: writing GA's 730
 * day partitions forked chmod about 20,000 times per table. java.nio sets the same permission bits in-process.
 * Only file:// paths use this class; S3, Glue and EMR are unaffected.
 */
package io.c360.hadoop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

public class PosixLocalFileSystem extends LocalFileSystem {
  public PosixLocalFileSystem() {
    super(new Raw());
  }

  /** RawLocalFileSystem with an in-process setPermission (the nine rwx bits; local files carry no sticky bit). */
  public static class Raw extends RawLocalFileSystem {
    /** Bit i of the mode (0 = others' execute ... 8 = owner's read). */
    private static final PosixFilePermission[] BITS = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ,
    };

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      short mode = permission.toShort();
      Set<PosixFilePermission> bits = EnumSet.noneOf(PosixFilePermission.class);
      for (int i = 0; i < BITS.length; i++) {
        if ((mode & (1 << i)) != 0) {
          bits.add(BITS[i]);
        }
      }
      Files.setPosixFilePermissions(pathToFile(p).toPath(), bits);
    }
  }
}
