#!/usr/bin/env bash
# Pre-run command of the review stack template: Pulumi Deployments runs it in every review stack
# (one per pull request) before `pulumi up`. Review stacks copy Pulumi.pr.yaml, which deploys to
# dev's cluster, so each one gets a namespace of its own here, and with a URL template containing
# {namespace}, the URLs its smoke checks call: the live route with the namespace, the preview route
# (the candidate, before the switch) with the namespace followed by -preview.
#
#   delivery/deployments/review-stack.sh STACK [URL_TEMPLATE]
#   delivery/deployments/review-stack.sh pr-acme-env-progression-42 'https://{namespace}.review.example.com'
set -euo pipefail
stack=${1:?usage: delivery/deployments/review-stack.sh STACK [URL_TEMPLATE]}
template=${2:-}
case "$template" in
  '' | *'{namespace}'*) ;;
  *) echo "review-stack.sh: URL template '$template' has no {namespace}, so every review stack would call the same URL. Fix: e.g. 'https://{namespace}.review.example.com'" >&2; exit 2 ;;
esac

# A namespace is an RFC 1123 label (a-z, 0-9, '-', at most 63, alphanumeric at both ends). Review
# stack names end in the pull request's number, so a long name keeps its end.
slug=$(printf '%s' "$stack" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9' '-' | tr -s '-')
[ ${#slug} -le 55 ] || slug=${slug: -55}
slug=${slug#-}
slug=${slug%-}
[ -n "$slug" ] || { echo "review-stack.sh: stack name '$stack' has no letter or digit to name a namespace after" >&2; exit 2; }
namespace="review-$slug"

pulumi config set --stack "$stack" env-progression:namespace "$namespace"
echo "review stack $stack: namespace $namespace"
if [ -n "$template" ]; then
  url=${template//\{namespace\}/$namespace}
  preview=${template//\{namespace\}/$namespace-preview}
  pulumi config set --stack "$stack" env-progression:smokeBaseUrl "$url"
  pulumi config set --stack "$stack" env-progression:smokePreviewUrl "$preview"
  echo "review stack $stack: smoke checks call $preview (the candidate), then $url (live)"
fi
