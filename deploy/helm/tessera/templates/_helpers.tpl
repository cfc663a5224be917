{{/* Labels every object carries; `component` is gateway or node. */}}
{{- define "tessera.labels" -}}
app.kubernetes.io/name: tessera-{{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
{{- end }}

{{/* What a selector matches: stable across upgrades. */}}
{{- define "tessera.gatewaySelector" -}}
app.kubernetes.io/name: tessera-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tessera.nodeSelector" -}}
app.kubernetes.io/name: tessera-node
app.kubernetes.io/instance: {{ .root.Release.Name }}
tessera.eu/node: {{ .node.id }}
{{- end }}

{{/* An image reference: the tag defaults to the chart's appVersion. */}}
{{- define "tessera.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end }}

{{- define "tessera.gatewayName" -}}
{{ .Release.Name }}-gateway
{{- end }}

{{- define "tessera.nodeName" -}}
{{ .root.Release.Name }}-node-{{ .node.id }}
{{- end }}

{{/*
The node's configuration file: what the chart knows (id, listen address,
state directory, the gateway's issuer and JWKS) under what the values say.
*/}}
{{- define "tessera.nodeConfig" -}}
{{- $root := .root -}}
{{- $gatewayUrl := printf "http://%s.%s.svc:%v" (include "tessera.gatewayName" $root) $root.Release.Namespace $root.Values.gateway.service.port -}}
{{- $derived := dict
  "nodeId" .node.id
  "listen" (dict "host" "0.0.0.0" "port" 8081)
  "stateDir" "/state"
  "gateway" (dict "issuer" $root.Values.gateway.config.publicUrl "jwksUrl" (printf "%s/.well-known/jwks.json" $gatewayUrl))
-}}
{{- toJson (mergeOverwrite $derived (deepCopy .node.config)) -}}
{{- end }}

{{/*
The gateway's configuration file: the values' config, with `nodes` made of
this release's nodes (their Services) and the remote ones.
*/}}
{{- define "tessera.gatewayConfig" -}}
{{- $root := . -}}
{{- $nodes := list -}}
{{- range $root.Values.nodes -}}
{{- $url := printf "http://%s.%s.svc:8081" (include "tessera.nodeName" (dict "root" $root "node" .)) $root.Release.Namespace -}}
{{- $nodes = append $nodes (dict "id" .id "url" $url) -}}
{{- end -}}
{{- range $root.Values.gateway.remoteNodes -}}
{{- $nodes = append $nodes (pick . "id" "url" "title" "connections" "maxConcurrentQueries") -}}
{{- end -}}
{{- toJson (set (deepCopy $root.Values.gateway.config) "nodes" $nodes) -}}
{{- end }}

{{/* Pod and container security: non-root, read-only root, nothing extra. */}}
{{- define "tessera.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile: { type: RuntimeDefault }
{{- end }}

{{- define "tessera.containerSecurityContext" -}}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities: { drop: [ALL] }
{{- end }}
