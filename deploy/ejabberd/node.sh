# shellcheck shell=bash
# The Erlang node of one ejabberd run directory, shared by start.sh, stop.sh and register.sh.
# Source it after common.sh; it defines functions only.
#
# Each run directory gets its own node: a name derived from the directory, a cookie in
# DIR/cookie (handed to Erlang through a HOME of its own, so it never shows on a command line)
# and Erlang distribution on the loopback port written in DIR/node.env. With a fixed
# distribution port Erlang needs no epmd, so no port-mapper daemon is started that would outlive
# the server, and the node never collides with a system ejabberd (node ejabberd@localhost, epmd).

# ejabberd_lib_dir -- where the Debian package keeps ejabberd's Erlang applications (empty if absent).
ejabberd_lib_dir() {
  local beam
  for beam in /usr/lib/*/ejabberd-*/ebin/ejabberd.beam /usr/lib/ejabberd-*/ebin/ejabberd.beam; do
    [[ -f "$beam" ]] && { dirname "$(dirname "$(dirname "$beam")")"; return 0; }
  done
  return 0
}

# node_name DIR -- the node of this run directory.
node_name() {
  printf 'ejabberd-%s@localhost\n' "$(printf '%s' "$1" | sha1sum | cut -c1-12)"
}

# node_environment DIR -- exports what every erl of this run directory needs and sets NODE_ARGS
# (the server's arguments) and CTL_ARGS (those of a short-lived control node).
node_environment() {
  local dir="$1" dist_port
  [[ -s "$dir/node.env" && -s "$dir/cookie" ]] || die "$dir has no ejabberd node; run deploy/ejabberd/start.sh --dir $dir first"
  dist_port="$(sed -n 's/^DIST_PORT=\([0-9]*\)$/\1/p' "$dir/node.env")"
  valid_port "$dist_port" || die "$dir/node.env names no distribution port"
  mkdir -p "$dir/home"
  install -m 400 "$dir/cookie" "$dir/home/.erlang.cookie.new"
  mv -f "$dir/home/.erlang.cookie.new" "$dir/home/.erlang.cookie"
  export HOME="$dir/home"
  ERL_LIBS="$(ejabberd_lib_dir)"
  export ERL_LIBS
  local -a distribution=(-erl_epmd_port "$dist_port" -start_epmd false -kernel inet_dist_use_interface '{127,0,0,1}')
  NODE_ARGS=(-sname "$(node_name "$dir")" "${distribution[@]}" +K true +P 250000)
  CTL_ARGS=(-sname "ctl-$$-$RANDOM@localhost" "${distribution[@]}" -dist_listen false -hidden -noinput)
}

# ejabberd_ctl DIR COMMAND... -- runs an ejabberdctl command on the node of DIR (like the packaged
# ejabberdctl, which only knows the system node). Its exit code is the command's.
ejabberd_ctl() {
  local dir="$1"
  shift
  (
    node_environment "$dir"
    exec erl "${CTL_ARGS[@]}" -s ejabberd_ctl -extra "$(node_name "$dir")" "$@"
  )
}
