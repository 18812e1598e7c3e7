# Shared by the demo and benchmark scripts: start the local stand-in token
# endpoint and point opti-cred at a throwaway config and cache.
#
# After `start_stand_in`, these are set:
#   WORK        a temporary directory, removed on exit
#   ENDPOINT    the stand-in's base URL (http://127.0.0.1:PORT)
#   OPTI_CRED_CONFIG, OPTI_CRED_CACHE_DIR, OPTI_CRED_CLIENT_SECRET (exported)

# A fresh random secret for each run, shared with the stand-in through the
# environment, never through argv.
new_secret() {
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'
}

start_stand_in() {
  WORK=$(mktemp -d)
  trap 'stop_stand_in' EXIT
  STAND_IN_CLIENT_SECRET=$(new_secret)
  export STAND_IN_CLIENT_SECRET

  target/release/examples/token_endpoint --client-id "${1:-opti-cred-demo}" \
    >"$WORK/endpoint.out" 2>"$WORK/endpoint.err" &
  STAND_IN_PID=$!
  for _ in $(seq 100); do
    ENDPOINT=$(head -n 1 "$WORK/endpoint.out" 2>/dev/null || true)
    [[ -n $ENDPOINT ]] && break
    sleep 0.05
  done
  if [[ -z $ENDPOINT ]]; then
    echo "the stand-in token endpoint did not start:" >&2
    cat "$WORK/endpoint.err" >&2
    exit 1
  fi

  export OPTI_CRED_CONFIG=$WORK/config/config.toml
  export OPTI_CRED_CACHE_DIR=$WORK/cache
  export OPTI_CRED_CLIENT_SECRET=$STAND_IN_CLIENT_SECRET
}

stop_stand_in() {
  if [[ -n ${STAND_IN_PID:-} ]]; then
    kill "$STAND_IN_PID" 2>/dev/null || true
    wait "$STAND_IN_PID" 2>/dev/null || true
  fi
  if [[ -n ${WORK:-} ]]; then
    rm -rf "$WORK"
  fi
}

stand_in_requests() {
  curl -fsS "$ENDPOINT/stats" | sed -n 's/.*"token_requests":\([0-9]*\).*/\1/p'
}
