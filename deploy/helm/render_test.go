// Package helm_test renders the eventrouter Helm chart with Helm's own Go packages (no
// helm binary, no cluster, no network) and checks what it renders: every manifest
// decodes strictly into its Kubernetes, prometheus-operator or KEDA Go type (an unknown
// or misspelt field fails), and the objects fit together and fit eventrouter (real
// configuration keys, probes on the ops listener, static membership, the KEDA cap).
package helm_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	keda "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// chartDir is the chart, relative to this package.
const chartDir = "eventrouter"

// release is the release every test renders.
var release = chartutil.ReleaseOptions{Name: "er", Namespace: "webhooks", Revision: 1, IsInstall: true}

// manifests is one rendering of the chart, decoded: every object by kind, then name.
type manifests struct {
	ConfigMaps      map[string]*corev1.ConfigMap
	Secrets         map[string]*corev1.Secret
	Services        map[string]*corev1.Service
	StatefulSets    map[string]*appsv1.StatefulSet
	Deployments     map[string]*appsv1.Deployment
	PDBs            map[string]*policyv1.PodDisruptionBudget
	ServiceMonitors map[string]*monitoringv1.ServiceMonitor
	ScaledObjects   map[string]*keda.ScaledObject
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// parseValues reads a values override written as YAML, like a -f values file.
func parseValues(t *testing.T, overrides string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(overrides))
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	return vals.AsMap()
}

// renderFiles renders the chart as `helm template --strict` would (a missing value is
// an error) and returns each template's output.
func renderFiles(t *testing.T, overrides string) (map[string]string, error) {
	t.Helper()
	ch := loadChart(t)
	rv, err := chartutil.ToRenderValues(ch, parseValues(t, overrides), release, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.Render(ch, rv)
}

// render renders the chart with overrides and decodes every manifest strictly.
func render(t *testing.T, overrides string) manifests {
	t.Helper()
	files, err := renderFiles(t, overrides)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	m, err := decodeAll(files)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decodeAll splits every rendered template into documents and decodes each into the
// Go type of its apiVersion and kind, rejecting unknown fields and kinds.
func decodeAll(files map[string]string) (manifests, error) {
	m := manifests{
		ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{},
		Services: map[string]*corev1.Service{}, StatefulSets: map[string]*appsv1.StatefulSet{},
		Deployments: map[string]*appsv1.Deployment{}, PDBs: map[string]*policyv1.PodDisruptionBudget{},
		ServiceMonitors: map[string]*monitoringv1.ServiceMonitor{}, ScaledObjects: map[string]*keda.ScaledObject{},
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, file := range names {
		if strings.HasSuffix(file, "NOTES.txt") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(files[file]) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			if err := m.add([]byte(doc)); err != nil {
				return m, fmt.Errorf("%s: %w\n%s", file, err, doc)
			}
		}
	}
	return m, nil
}

// add decodes one document into its type and files it under its name.
func (m *manifests) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	decoders := map[string]func([]byte) error{
		"v1 ConfigMap":                            decoder(m.ConfigMaps),
		"v1 Secret":                               decoder(m.Secrets),
		"v1 Service":                              decoder(m.Services),
		"apps/v1 StatefulSet":                     decoder(m.StatefulSets),
		"apps/v1 Deployment":                      decoder(m.Deployments),
		"policy/v1 PodDisruptionBudget":           decoder(m.PDBs),
		"monitoring.coreos.com/v1 ServiceMonitor": decoder(m.ServiceMonitors),
		"keda.sh/v1alpha1 ScaledObject":           decoder(m.ScaledObjects),
	}
	decode, ok := decoders[tm.APIVersion+" "+tm.Kind]
	if !ok {
		return fmt.Errorf("unexpected kind %q (apiVersion %q): add it to the decoder and its checks", tm.Kind, tm.APIVersion)
	}
	if err := decode(doc); err != nil {
		return fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return nil
}

// decoder returns a function that decodes a document strictly (unknown fields and
// duplicate keys are errors) into a new *T and files it in into by name.
func decoder[T any, P interface {
	*T
	metav1.Object
}](into map[string]P) func([]byte) error {
	return func(doc []byte) error {
		obj := P(new(T))
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return err
		}
		name := obj.GetName()
		if name == "" {
			return fmt.Errorf("no metadata.name")
		}
		if _, dup := into[name]; dup {
			return fmt.Errorf("two objects of one kind named %q", name)
		}
		into[name] = obj
		return nil
	}
}

// TestDecodeIsStrict: a misspelt field, in a Kubernetes or a CRD type, or a kind the
// checks do not know, fails the decoding instead of being dropped.
func TestDecodeIsStrict(t *testing.T) {
	for doc, want := range map[string]string{
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: a}\nspec: {replica: 2}\n":                  `unknown field "replica"`,
		"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: a}\nspec: {maxReplicas: 2}\n":    `unknown field "maxReplicas"`,
		"apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec: {port: x}\n": `unknown field "port"`,
		"apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: http}]}\n":                "cannot unmarshal string",
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: a}\n":                                             `unexpected kind "Job"`,
	} {
		_, err := decodeAll(map[string]string{"t.yaml": doc})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decoding %q: error %v, want one containing %q", doc, err, want)
		}
	}
}
