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

{{/*
A CronJob beside a node's pod: same image, configuration, secrets and volume
(ReadWriteOnce, so it must run on the same host: the pod affinity), never two
at once. `job` names it, `args` are tessera-node's.
*/}}
{{- define "tessera.nodeCronJob" -}}
{{- $root := .root }}
{{- $node := .node }}
{{- $d := $root.Values.nodeDefaults }}
{{- $name := include "tessera.nodeName" (dict "root" $root "node" $node) }}
{{- $secretFiles := $node.secretFiles | default list }}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ $name }}-{{ .job }}
  labels: {{- include "tessera.labels" (dict "root" $root "component" "node") | nindent 4 }}
    tessera.eu/node: {{ $node.id }}
spec:
  schedule: {{ .schedule | quote }}
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 3600
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        metadata:
          labels:
            app.kubernetes.io/name: tessera-node-{{ .job }}
            app.kubernetes.io/instance: {{ $root.Release.Name }}
            tessera.eu/node: {{ $node.id }}
        spec:
          restartPolicy: Never
          automountServiceAccountToken: false
          securityContext: {{- include "tessera.podSecurityContext" . | nindent 12 }}
          affinity:
            podAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                - labelSelector:
                    matchLabels: {{- include "tessera.nodeSelector" (dict "root" $root "node" $node) | nindent 22 }}
                  topologyKey: kubernetes.io/hostname
          containers:
            - name: {{ .job }}
              image: {{ include "tessera.image" (dict "root" $root "image" (merge (deepCopy ($node.image | default dict)) $d.image)) }}
              imagePullPolicy: {{ $d.image.pullPolicy }}
              args: {{- toYaml .args | nindent 16 }}
              {{- with $node.extraEnv }}
              env: {{- toYaml . | nindent 16 }}
              {{- end }}
              resources: {{- toYaml ($node.resources | default $d.resources) | nindent 16 }}
              securityContext: {{- include "tessera.containerSecurityContext" . | nindent 16 }}
              volumeMounts:
                - { name: config, mountPath: /etc/tessera, readOnly: true }
                - { name: data, mountPath: /data }
                - { name: data, mountPath: /state, subPath: state }
                - { name: tmp, mountPath: /tmp }
                {{- range $secretFiles }}
                - { name: secret-{{ .secretName }}, mountPath: {{ .mountPath }}, readOnly: true }
                {{- end }}
          volumes:
            - name: config
              configMap: { name: {{ $name }} }
            - name: data
              persistentVolumeClaim: { claimName: data-{{ $name }}-0 }
            - name: tmp
              emptyDir: { sizeLimit: 1Gi }
            {{- range $secretFiles }}
            - name: secret-{{ .secretName }}
              secret: { secretName: {{ .secretName }}, defaultMode: 0400 }
            {{- end }}
{{- end }}
