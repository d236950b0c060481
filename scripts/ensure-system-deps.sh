#!/usr/bin/env bash
# Checks the system packages c360 needs and, when missing and running as root on Debian, installs them with apt.
# Otherwise prints what to install and fails. Needed: Java 17 (Spark 3.5), the PostgreSQL server binaries (the
# local sourcemf database), the PostgreSQL JDBC jar (Spark's JDBC extract) and Chromium (browser tests).
set -euo pipefail

missing=()
have_java17() { ls /usr/lib/jvm/java-17-openjdk-*/bin/javac >/dev/null 2>&1; }  # the JDK: c360/spark.py compiles c360/localfs
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
have_jdbc() { [ -f /usr/share/java/postgresql.jar ]; }
have_chromium() { command -v chromium >/dev/null 2>&1; }

have_java17 || missing+=(openjdk-17-jdk-headless)
have_pg || missing+=(postgresql)
have_jdbc || missing+=(libpostgresql-jdbc-java)
have_chromium || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system dependencies: ok (Java 17, PostgreSQL server, JDBC jar, Chromium)"
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  have_java17 && have_pg && have_jdbc && have_chromium || { echo "apt-get did not provide everything: ${missing[*]}" >&2; exit 1; }
  echo "system dependencies: installed ${missing[*]}"
else
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them, e.g. on Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
