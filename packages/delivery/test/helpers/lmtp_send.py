"""Sends one message over LMTP (RFC 2033) or SMTP with Python's smtplib and prints, as
JSON, every reply: LHLO/EHLO, MAIL, each RCPT and the DATA replies (LMTP: one per
accepted recipient, read with getreply() since smtplib.LMTP.sendmail reads only one).

usage: lmtp_send.py lmtp|smtp HOST PORT SENDER RCPT[,RCPT...] MESSAGE_FILE [starttls]
"""
import json
import smtplib
import ssl
import sys

proto, host, port, sender, rcpts, path = sys.argv[1:7]
starttls = len(sys.argv) > 7 and sys.argv[7] == 'starttls'
with open(path, 'rb') as f:
    message = f.read()

client = smtplib.LMTP(host, int(port)) if proto == 'lmtp' else smtplib.SMTP(host, int(port))
out = {}
code, text = client.ehlo('client.test')
out['hello'] = [code, text.decode('latin1')]
if starttls:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    out['starttls'] = list(client.starttls(context=ctx))
    out['starttls'][1] = out['starttls'][1].decode('latin1')
    out['tls'] = client.sock.version()
    client.ehlo('client.test')
out['esmtp'] = sorted(client.esmtp_features.keys())
code, text = client.mail(sender)
out['mail'] = [code, text.decode('latin1')]
out['rcpt'] = []
accepted = 0
for r in rcpts.split(','):
    code, text = client.rcpt(r)
    out['rcpt'].append([r, code, text.decode('latin1')])
    if code < 400:
        accepted += 1
out['data'] = []
if accepted > 0:
    code, text = client.data(message)
    out['data'].append([code, text.decode('latin1')])
    if proto == 'lmtp':
        for _ in range(accepted - 1):
            code, text = client.getreply()
            out['data'].append([code, text.decode('latin1')])
try:
    client.quit()
except smtplib.SMTPServerDisconnected:
    pass
print(json.dumps(out))
