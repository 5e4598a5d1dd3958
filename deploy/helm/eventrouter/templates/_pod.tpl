{{/* The pod template every role shares: (dict "root" $ "role" "router"). The role's
values are .Values.<role>. */}}
{{- define "eventrouter.podTemplate" -}}
{{- $root := .root }}
{{- $role := .role }}
{{- $v := index $root.Values $role }}
{{- $secret := include "eventrouter.secretName" $root -}}
metadata:
  labels:
    {{- include "eventrouter.selectorLabels" . | nindent 4 }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Roll the pods when the configuration changes.
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- if and $root.Values.secrets.env (not $root.Values.secrets.existingSecret) }}
    checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- end }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- if and $root.Values.topics.create (ne $role "api") }}
  initContainers:
    # Creates missing topics (idempotent) so the role never starts before they exist.
    - name: topics
      image: {{ include "eventrouter.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        - --config=/etc/eventrouter/eventrouter.yaml
        - topics
        - create
        {{- if $root.Values.topics.includeIngest }}
        - --include-ingest
        {{- end }}
      {{- if $secret }}
      envFrom:
        - secretRef:
            name: {{ $secret }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      resources:
        requests: {cpu: 10m, memory: 32Mi}
        limits: {memory: 128Mi}
      volumeMounts:
        - name: config
          mountPath: /etc/eventrouter
          readOnly: true
  {{- end }}
  containers:
    - name: {{ $role }}
      image: {{ include "eventrouter.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        - --config=/etc/eventrouter/eventrouter.yaml
        - {{ $role }}
      env:
        - name: EVENTROUTER_OPS_LISTEN
          value: {{ printf ":%v" $root.Values.opsPort | quote }}
        {{- if eq $role "api" }}
        - name: EVENTROUTER_API_LISTEN
          value: {{ printf ":%v" $root.Values.api.port | quote }}
        {{- else if ne (toString (dig "kafka" "static_membership" true $root.Values.config)) "false" }}
        # Static group membership (KIP-345): the StatefulSet pod name is stable across
        # restarts, so a restarted pod rejoins as the same member, without a rebalance.
        - name: EVENTROUTER_KAFKA_INSTANCE_ID
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if $secret }}
      envFrom:
        - secretRef:
            name: {{ $secret }}
      {{- end }}
      ports:
        - name: ops
          containerPort: {{ $root.Values.opsPort }}
          protocol: TCP
        {{- if eq $role "api" }}
        - name: http
          containerPort: {{ $root.Values.api.port }}
          protocol: TCP
        {{- end }}
      # /healthz answers while the process runs. /readyz is NOT used for liveness: it
      # fails during a Redis outage, when the roles keep working from their last
      # snapshot and a restart would lose it.
      livenessProbe:
        httpGet:
          path: /healthz
          port: ops
        {{- toYaml $root.Values.probes.liveness | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: ops
        {{- toYaml $root.Values.probes.readiness | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/eventrouter
          readOnly: true
  volumes:
    - name: config
      configMap:
        name: {{ include "eventrouter.fullname" $root }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  # Spread a role's pods over nodes where possible, so one node's loss takes few.
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "eventrouter.selectorLabels" . | nindent 10 }}
{{- end }}
