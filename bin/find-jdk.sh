# Sourced by ./lowbit and .ci/run: sets JAVA_HOME to a JDK >= 25 and puts it first on PATH.
# Order: $JAVA_HOME if it is a JDK >= 25, then the JDK of `java` on PATH, then the usual install directories.
# Fails with a message naming every place it looked when there is none.

lowbit_min_jdk=25

# Prints the feature version (e.g. 25) of the JDK at $1, or nothing if $1 is not a JDK with javac.
lowbit_jdk_feature() {
  local home=$1
  [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 0
  local v
  v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n 1)
  case "$v" in
    1.*) echo "${v#1.}" ;;
    *) echo "$v" ;;
  esac
}

lowbit_find_jdk() {
  local tried=() cand feature
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for dir in /usr/lib/jvm /usr/local/lib/jvm /opt/java /opt/jdk /opt "$HOME/.sdkman/candidates/java" "$HOME/.jdks" /Library/Java/JavaVirtualMachines; do
    [ -d "$dir" ] || continue
    for cand in "$dir"/*; do
      [ -d "$cand/Contents/Home" ] && cand="$cand/Contents/Home"
      candidates+=("$cand")
    done
  done
  # Prefer the newest JDK among the candidates that qualify, but keep JAVA_HOME if it qualifies.
  local best="" best_feature=0
  for cand in "${candidates[@]}"; do
    feature=$(lowbit_jdk_feature "$cand")
    tried+=("$cand${feature:+ (java $feature)}")
    case "$feature" in ''|*[!0-9]*) continue ;; esac
    if [ "$feature" -ge "$lowbit_min_jdk" ]; then
      if [ -n "${JAVA_HOME:-}" ] && [ "$cand" = "$JAVA_HOME" ]; then best=$cand; break; fi
      if [ "$feature" -gt "$best_feature" ]; then best=$cand; best_feature=$feature; fi
    fi
  done
  if [ -z "$best" ]; then
    echo "lowbit: no JDK >= $lowbit_min_jdk found. Looked at:" >&2
    printf '  %s\n' "${tried[@]}" >&2
    echo "Install a JDK $lowbit_min_jdk (e.g. Temurin 25) or set JAVA_HOME to one." >&2
    return 1
  fi
  export JAVA_HOME=$best
  export PATH="$JAVA_HOME/bin:$PATH"
}
