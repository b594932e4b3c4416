"""Phone first: the web app manifest, the service worker and the offline queue's data."""
