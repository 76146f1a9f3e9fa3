# The review report's page is tested in headless Chromium (tests/review/test_browser.py):
# Debian's chromium and chromium-driver, installed as root when missing. Anyone else gets
# one line saying how; the browser test then skips with the same reason.
.PHONY: review-browser
EXTRA_INSTALL += review-browser

review-browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium and chromium-driver (review page tests)"; \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)) || \
	  echo "review-browser: apt-get could not install chromium; the report page test will skip"; \
	else echo "review-browser: chromium not installed and not root; skipping (sudo apt-get install chromium chromium-driver runs the report page test)"; fi
