# Sourced by ./jevons and .ci/run. find_jdk prints the home of a JDK >= 21 or explains and fails.
java_major() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -n1 | cut -d. -f1
}

find_jdk() {
  local candidates=()
  [[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  local d
  for d in /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/*; do
    [[ -d "$d" ]] && candidates+=("$d")
  done
  for d in "${candidates[@]}"; do
    if [[ -x "$d/bin/java" && -x "$d/bin/javac" ]]; then
      local v
      v="$(java_major "$d")"
      if [[ -n "$v" && "$v" -ge 21 ]]; then
        echo "$d"
        return 0
      fi
    fi
  done
  echo "jevons: no JDK 21 or newer found (looked at JAVA_HOME, java on PATH and /usr/lib/jvm). Install one, e.g. 'apt-get install openjdk-21-jdk' or Temurin 21+, and set JAVA_HOME." >&2
  return 1
}
