#!/bin/sh
# The running app answers on the service name "web".
set -e
for i in $(seq 50); do wget -q -O /tmp/index http://web/ && break; sleep 0.2; done
grep -q "slipway demo app" /tmp/index
echo "index page served"
words=$(echo "ship it now" | wget -q -O- --post-file=/dev/stdin http://web/cgi-bin/count)
[ "$words" = 3 ] && echo "word count over HTTP: $words"
