# Sourced by scripts/test, scripts/demo and scripts/bench: installs the
# Debian 12 packages Pulse builds and tests with, if any are missing.

PULSE_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  librdkafka-dev libpq-dev libsimdjson-dev librocksdb-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  prometheus-cpp-dev libcpp-httplib-dev libyaml-cpp-dev libcli11-dev
  postgresql-15 postgresql-15-hll postgresql-client-15 kcat
  python3 procps
)

pulse_install_deps() {
  local missing=()
  local p
  for p in "${PULSE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
      missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
}
