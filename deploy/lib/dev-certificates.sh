# shellcheck shell=bash
# The dev CA and server certificate of a run directory, shared by deploy/prosody and deploy/ejabberd
# (so both servers present the same kind of certificate and clients trust the same kind of CA).
# Source it after common.sh; it defines functions only.

# make_dev_certificates DIR DOMAIN
# A dev CA (DIR/ca/ca.crt, trust it in clients) and a server certificate for DOMAIN and *.DOMAIN
# (DIR/certs/DOMAIN.crt and .key). Kept across runs; renewed when missing, expiring within a day or
# not signed by the CA beside it. DIR/ca and DIR/certs must exist.
make_dev_certificates() {
  local DIR="$1" DOMAIN="$2"
  local ca_crt="$DIR/ca/ca.crt" ca_key="$DIR/ca/ca.key"
  local crt="$DIR/certs/$DOMAIN.crt" key="$DIR/certs/$DOMAIN.key"
  local work="$DIR/.cert-work"
  rm -rf "$work"
  mkdir -p "$work"
  cat >"$work/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$DOMAIN, DNS:*.$DOMAIN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  if [[ ! -s "$ca_crt" || ! -s "$ca_key" ]] || ! openssl x509 -checkend 86400 -noout -in "$ca_crt" >/dev/null 2>&1; then
    log "creating dev CA in $DIR/ca"
    openssl req -x509 -config "$work/openssl.cnf" -extensions ca_ext -newkey rsa:2048 -nodes -days 3650 \
      -subj "/CN=Active-Calls dev CA ($DOMAIN)" -keyout "$ca_key" -out "$ca_crt" 2>/dev/null ||
      die "openssl could not create the dev CA"
    rm -f "$crt" "$key"
  fi
  if [[ ! -s "$crt" || ! -s "$key" ]] ||
    ! openssl verify -CAfile "$ca_crt" "$crt" >/dev/null 2>&1 ||
    ! openssl x509 -checkend 86400 -noout -in "$crt" >/dev/null 2>&1; then
    log "creating server certificate for $DOMAIN and *.$DOMAIN"
    openssl req -new -config "$work/openssl.cnf" -newkey rsa:2048 -nodes -subj "/CN=$DOMAIN" \
      -keyout "$key" -out "$work/server.csr" 2>/dev/null ||
      die "openssl could not create the server key"
    openssl x509 -req -in "$work/server.csr" -CA "$ca_crt" -CAkey "$ca_key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 3650 \
      -extfile "$work/openssl.cnf" -extensions server_ext -out "$crt" 2>/dev/null ||
      die "openssl could not sign the server certificate"
  fi
  rm -rf "$work"
  # Certificates are public; the keys stay private to the owner.
  chmod 644 "$ca_crt" "$crt"
}
