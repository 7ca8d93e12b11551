"""A document response with its own Status (RFC 3875 §6.3.3)."""

print("Status: 404 Not Found")
print("Content-Type: text/plain; charset=utf-8")
print("X-Reason: no such page")
print()
print("nothing here")
