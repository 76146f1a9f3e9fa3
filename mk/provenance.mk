# MediaConch checks preservation masters against restore/provenance/ffv1-master.mediaconch.xml
# when `restore package` (or `restore run --package`) builds a bag. It is optional: without it
# the bag is still built and validated, only the policy check is skipped. Installs Debian's
# package as root; anyone else gets one line saying how.
.PHONY: mediaconch
EXTRA_INSTALL += mediaconch

mediaconch:
	@if command -v mediaconch >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's mediaconch (FFV1 master policy checks)"; \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mediaconch >/dev/null 2>&1 || \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mediaconch >/dev/null)) || \
	  echo "mediaconch: apt-get could not install it; skipping (packages are still built, without the policy check)"; \
	else echo "mediaconch: not installed and not root; skipping (sudo apt-get install mediaconch enables the FFV1 policy check)"; fi
