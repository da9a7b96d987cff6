#!/usr/bin/env bash
# The cluster's SSH key pair when neither key_pair_name nor ssh_public_key is given (the seed:
# "the system creates a key pair and stores the private key locally"). Run by Terraform
# (terraform_data.generated_key_pair) on the machine that applies, with the AWS CLI and its
# credentials: EC2 generates the key (CreateKeyPair) and the private key goes only to a 0600
# file, never into Terraform's state or output.
#   ssh-key-pair.sh create|delete KEY_NAME PRIVATE_KEY_PATH REGION CLUSTER_NAME
set -euo pipefail
action=$1 name=$2 path=$3 region=$4 cluster=${5:-}

case "$action" in
create)
  if aws ec2 describe-key-pairs --region "$region" --key-names "$name" >/dev/null 2>&1; then
    if [ -s "$path" ]; then
      echo "key pair $name exists; its private key is $path"
      exit 0
    fi
    echo "key pair $name exists in $region but its private key is not at $path: delete it" \
      "(aws ec2 delete-key-pair --region $region --key-name $name) or set key_pair_name" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$path")"
  umask 077
  tmp=$(mktemp "$path.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  aws ec2 create-key-pair --region "$region" --key-name "$name" --key-type rsa --key-format pem \
    --tag-specifications "ResourceType=key-pair,Tags=[{Key=weka_cluster_name,Value=$cluster}]" \
    --query KeyMaterial --output text >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$path"
  trap - EXIT
  echo "key pair $name created; its private key is $path (mode 0600)"
  ;;
delete)
  aws ec2 delete-key-pair --region "$region" --key-name "$name"
  rm -f "$path"
  ;;
*)
  echo "usage: $0 create|delete KEY_NAME PRIVATE_KEY_PATH REGION CLUSTER_NAME" >&2
  exit 2
  ;;
esac
