# image_certificate DIR NAME: a self-signed P-256 certificate for NAME, named as the nginx
# image names its files: DIR/cert.crt and DIR/certkey.key (source this file).
image_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:$2" -keyout "$1/certkey.key" -out "$1/cert.crt" 2>/dev/null
}
