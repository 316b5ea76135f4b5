"""The nginx image eclb replaces, as an nginx.conf for Debian's nginx: TLS with cert.crt /
certkey.key, port 80 redirected to https://DNS_NAME, WebSocket upgrades proxied round
robin over GATEWAY_LIST, pins by a /vmN/ path prefix (a prefix location per gateway:
nginx normalises the path first, strips the prefix, and redirects "/vmN" to "/vmN/") and
by "X-Server-Select: vmN" (or ip:port; blanks around it ignored, names without regard to
case), the path pin first; the forwarding headers, and day-long proxy timeouts. A failed
connect goes on to the next upstream (nginx's default proxy_next_upstream). Used by the
parity test and the L7 benchmark, so both compare eclb with the same nginx."""


def nginx_conf(gateways, dns_name, cert, key, listen, work, workers=1, tls=True):
    names = {f"vm{i}": gateway for i, gateway in enumerate(gateways, 1)}
    upstreams = "".join(f"  upstream {name} {{ server {gateway}; }}\n" for name, gateway in names.items())
    blank = "[ \\t]*"
    selects = ""
    for name, gateway in names.items():
        escaped = gateway.replace(".", "\\.")
        selects += f'    "~*^{blank}{name}{blank}$" {name};\n    "~^{blank}{escaped}{blank}$" {name};\n'
    pool = "".join(f"    server {gateway};\n" for gateway in gateways)
    temp = "".join(f"  {kind}_temp_path {work}/nginx-{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    routes = "".join(f"    location /{name}/ {{ proxy_pass http://{name}/; }}\n" for name in names) + """
    location / {
      if ($gateway = unknown) { return 502; }
      proxy_pass http://$gateway;
    }
"""
    if tls:
        servers = f"""
  server {{
    listen {listen}:80;
    return 301 https://{dns_name}$request_uri;
  }}
  server {{
    listen {listen}:443 ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
{routes}  }}
"""
    else:
        servers = f"""
  server {{
    listen {listen}:80;
{routes}  }}
"""
    return f"""user root;
worker_processes {workers};
worker_rlimit_nofile 65536;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 30000; }}
http {{
  access_log off;
{temp}  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  map $http_x_server_select $gateway {{
    default gateways;
    "" gateways;
{selects}    ~. unknown;
  }}
  upstream gateways {{
{pool}  }}
{upstreams}  proxy_http_version 1.1;
  proxy_set_header Upgrade $http_upgrade;
  proxy_set_header Connection $connection_upgrade;
  proxy_set_header Host $host;
  proxy_set_header X-Real-IP $remote_addr;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_read_timeout 1d;
  proxy_send_timeout 1d;
{servers}}}
"""
