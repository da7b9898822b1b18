{{/* Names and labels. */}}
{{- define "signal-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "signal-hub.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "signal-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "signal-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "signal-hub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "signal-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "signal-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "signal-hub.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "signal-hub.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where the chart mounts things in the container. */}}
{{- define "signal-hub.configDir" -}}/etc/signal-hub/config{{- end -}}
{{- define "signal-hub.tlsDir" -}}/etc/signal-hub/tls{{- end -}}
{{- define "signal-hub.caDir" -}}/etc/signal-hub/ca{{- end -}}

{{/*
The signal-hub configuration (docs/configuration.md): .Values.config with the keys the chart owns
laid over it. Secrets never appear here: they are ${VARIABLES} the binary interpolates from the
environment, which comes from existing Secrets (signal-hub.env).
*/}}
{{- define "signal-hub.config" -}}
{{- $c := deepCopy .Values.config -}}
{{- $owned := dict
      "database" (dict "type" "postgresql" "url" "${DATABASE_URL}")
      "server" (dict "host" .Values.listenAddress "port" (int .Values.ports.http))
      "monitoring" (dict
          "logging" (dict "output" "stdout")
          "metrics" (dict "enabled" true "host" .Values.listenAddress "port" (int .Values.ports.metrics) "path" "/metrics")) -}}
{{- $security := dict -}}
{{- if .Values.tls.enabled -}}
{{- $_ := set $security "tls" (dict "enabled" true
      "cert_file" (printf "%s/tls.crt" (include "signal-hub.tlsDir" .))
      "key_file" (printf "%s/tls.key" (include "signal-hub.tlsDir" .))) -}}
{{- else -}}
{{- $_ := set $security "tls" (dict "enabled" false) -}}
{{- end -}}
{{- if .Values.apiKeys.enabled -}}
{{- $_ := set $security "api_keys" (dict "enabled" true "pepper_env" "SIGNAL_HUB_API_KEY_PEPPER") -}}
{{- else -}}
{{- $_ := set $security "api_keys" (dict "enabled" false) -}}
{{- end -}}
{{- if .Values.redis.enabled -}}
{{- $_ := set $security "rate_limiting" (dict "backend" "redis" "redis_url" "${REDIS_URL}") -}}
{{- $_ := set $owned "performance" (dict "caching" (dict "backend" "redis" "redis_url" "${REDIS_URL}")) -}}
{{- end -}}
{{- $_ := set $owned "security" $security -}}
{{- $c = mustMergeOverwrite $c $owned -}}
{{- toYaml $c -}}
{{- end -}}

{{/* The embeddings provider of the configuration ("builtin" unless config.embedding.provider). */}}
{{- define "signal-hub.embeddingProvider" -}}
{{- $e := .Values.config.embedding | default dict -}}
{{- $e.provider | default "builtin" -}}
{{- end -}}

{{/* The variable holding the embeddings API key ("" = none): config.embedding.api_key_env. */}}
{{- define "signal-hub.embeddingKeyEnv" -}}
{{- $e := .Values.config.embedding | default dict -}}
{{- if eq (include "signal-hub.embeddingProvider" .) "openai" -}}
{{- if hasKey $e "api_key_env" -}}{{ $e.api_key_env }}{{- else -}}OPENAI_API_KEY{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Environment of the signal-hub containers that mount the ConfigMap: the configuration's path (so that
`kubectl exec ... signal-hub keys ...` finds it), the listen addresses (the image's ENV sets them to
0.0.0.0, and an environment override wins over the file), then only references to existing Secrets.
*/}}
{{- define "signal-hub.env" -}}
- name: SIGNAL_HUB_CONFIG
  value: {{ include "signal-hub.configDir" . }}/config.yaml
- name: SIGNAL_HUB_SERVER__HOST
  value: {{ .Values.listenAddress | quote }}
- name: SIGNAL_HUB_MONITORING__METRICS__HOST
  value: {{ .Values.listenAddress | quote }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.urlSecret.name: name the existing Secret that holds the PostgreSQL URL (kubectl create secret generic signal-hub-secrets --from-literal=database-url='postgresql://...'); the chart never creates passwords" .Values.database.urlSecret.name | quote }}
      key: {{ required "database.urlSecret.key: the key of the PostgreSQL URL in that Secret" .Values.database.urlSecret.key | quote }}
{{- if .Values.redis.enabled }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "redis.urlSecret.name: redis.enabled needs the name of an existing Secret holding the Redis URL (redis:// or rediss://); create it with kubectl create secret generic" .Values.redis.urlSecret.name | quote }}
      key: {{ required "redis.urlSecret.key: the key of the Redis URL in that Secret" .Values.redis.urlSecret.key | quote }}
{{- end }}
{{- if .Values.apiKeys.enabled }}
- name: SIGNAL_HUB_API_KEY_PEPPER
  valueFrom:
    secretKeyRef:
      name: {{ required "apiKeys.pepperSecret.name: apiKeys.enabled needs the name of an existing Secret holding the key pepper (openssl rand -base64 48)" .Values.apiKeys.pepperSecret.name | quote }}
      key: {{ required "apiKeys.pepperSecret.key: the key of the pepper in that Secret" .Values.apiKeys.pepperSecret.key | quote }}
{{- end }}
{{- $keyEnv := include "signal-hub.embeddingKeyEnv" . }}
{{- if $keyEnv }}
- name: {{ $keyEnv }}
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "embedding.apiKeySecret.name: config.embedding.provider openai reads its API key from %s; name the existing Secret that holds it (or set config.embedding.api_key_env: \"\" for an endpoint without a key)" $keyEnv) .Values.embedding.apiKeySecret.name | quote }}
      key: {{ required "embedding.apiKeySecret.key: the key of the embeddings API key in that Secret" .Values.embedding.apiKeySecret.key | quote }}
{{- end }}
{{- end -}}

{{/* The restricted Pod Security profile: pod level. */}}
{{- define "signal-hub.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
fsGroup: {{ .Values.podSecurity.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The restricted Pod Security profile: container level. */}}
{{- define "signal-hub.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurity.runAsUser }}
runAsGroup: {{ .Values.podSecurity.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* A NetworkPolicy egress rule: peers (never empty: an empty list would allow every destination) and ports. */}}
{{- define "signal-hub.egressRule" -}}
{{- $what := index . 0 -}}{{- $rule := index . 1 -}}{{- $protocols := index . 2 -}}
{{- if not $rule.to -}}
{{- fail (printf "networkPolicy.egress.%s.to is empty: name where %s is (ipBlock.cidr, or a podSelector/namespaceSelector); an empty list would allow every destination" $what $what) -}}
{{- end -}}
- to:
{{- toYaml $rule.to | nindent 4 }}
  ports:
{{- range $p := $rule.ports }}
{{- range $proto := $protocols }}
    - port: {{ $p }}
      protocol: {{ $proto }}
{{- end }}
{{- end }}
{{- end -}}

{{/* "yes" when some indexer repository is cloned with git (has a url). */}}
{{- define "signal-hub.indexerClones" -}}
{{- range .Values.indexer.repositories }}{{- if .url }}yes{{- end }}{{- end -}}
{{- end -}}
