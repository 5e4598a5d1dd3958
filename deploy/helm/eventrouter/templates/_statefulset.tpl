{{/* A router or sender StatefulSet: (dict "root" $ "role" "sender"). A StatefulSet
rather than a Deployment for its stable pod names, which are the static group member
ids (and the router's transactional ids): see docs/operations.md, "Kubernetes". */}}
{{- define "eventrouter.statefulset" -}}
{{- $root := .root }}
{{- $v := index $root.Values .role }}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ include "eventrouter.roleName" . }}
  labels:
    {{- include "eventrouter.roleLabels" . | nindent 4 }}
spec:
  {{- if not (and (eq .role "sender") $v.autoscaling.enabled) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  serviceName: {{ include "eventrouter.roleName" . }}
  # Pods are independent consumer group members: start and stop them all at once
  # rather than one by one.
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  selector:
    matchLabels:
      {{- include "eventrouter.selectorLabels" . | nindent 6 }}
  template:
    {{- include "eventrouter.podTemplate" . | nindent 4 }}
{{- end }}
