"""The version of gateway-lab (one place, read by the package and by CGI's SERVER_SOFTWARE)."""

__version__ = "0.1.0"
