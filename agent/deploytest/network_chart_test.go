package deploytest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// portsOf renders a NetworkPolicy rule's ports as "protocol/port" strings.
func portsOf(ports []networkingv1.NetworkPolicyPort) []string {
	var out []string
	for _, p := range ports {
		proto := "TCP"
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		port := "any"
		if p.Port != nil {
			port = p.Port.String()
		}
		out = append(out, proto+"/"+port)
	}
	return out
}

// egressTo returns the egress rule whose ports are exactly want, failing when there is none.
func egressTo(t *testing.T, np *networkingv1.NetworkPolicy, want ...string) networkingv1.NetworkPolicyEgressRule {
	t.Helper()
	var all [][]string
	for _, r := range np.Spec.Egress {
		if got := portsOf(r.Ports); slices.Equal(got, want) {
			return r
		}
		all = append(all, portsOf(r.Ports))
	}
	t.Fatalf("NetworkPolicy %s has no egress rule on exactly %v (rules' ports: %v)", np.Name, want, all)
	return networkingv1.NetworkPolicyEgressRule{}
}

// peers renders NetworkPolicy peers compactly, for comparisons.
func peers(ps []networkingv1.NetworkPolicyPeer) string {
	var out []string
	for _, p := range ps {
		var parts []string
		if p.NamespaceSelector != nil {
			parts = append(parts, "ns"+strings.TrimPrefix(fmt.Sprint(p.NamespaceSelector.MatchLabels), "map"))
		}
		if p.PodSelector != nil {
			parts = append(parts, "pod"+strings.TrimPrefix(fmt.Sprint(p.PodSelector.MatchLabels), "map"))
		}
		if p.IPBlock != nil {
			parts = append(parts, "ip:"+p.IPBlock.CIDR)
		}
		out = append(out, strings.Join(parts, "+"))
	}
	return strings.Join(out, " ")
}

const kubeDNSPeer = "ns[kubernetes.io/metadata.name:kube-system]+pod[k8s-app:kube-dns]"

// checkDNSEgress asserts the policy lets the pods reach the cluster DNS over UDP and TCP.
func checkDNSEgress(t *testing.T, np *networkingv1.NetworkPolicy) {
	t.Helper()
	if got := peers(egressTo(t, np, "UDP/53", "TCP/53").To); got != kubeDNSPeer {
		t.Errorf("DNS egress goes to %q, want %q", got, kubeDNSPeer)
	}
}

// TestBrokerIngressNetworkPolicyPDB: none of the three is rendered by default; with the day-two
// values, the Ingress routes its host to the Service's http port under TLS, the NetworkPolicy
// selects the broker's pods, admits the API port from the configured peers only and lets the
// pods reach DNS, the database and the extra rules, and the PodDisruptionBudget uses
// maxUnavailable. The API server accepts every object and admits the pods.
func TestBrokerIngressNetworkPolicyPDB(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)

	plain := render(t, "brokkr-broker", "brokkr-broker", ns, "--set", "database.external.url=postgres://db/brokkr")
	for _, kind := range []string{"Ingress", "NetworkPolicy", "PodDisruptionBudget"} {
		if n := len(ofKind(plain, kind)); n != 0 {
			t.Errorf("%d %s rendered by default, want none", n, kind)
		}
	}

	objs := render(t, "brokkr-broker", "brokkr-broker", ns, ciValues(t, "brokkr-broker", "day2-values.yaml")...)
	d := one[appsv1.Deployment](t, objs, "Deployment")
	svc := one[corev1.Service](t, objs, "Service")

	ing := one[networkingv1.Ingress](t, objs, "Ingress")
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("ingressClassName = %v, want nginx", ing.Spec.IngressClassName)
	}
	if ing.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] != "3600" {
		t.Errorf("Ingress annotations %v lack ingress.annotations", ing.Annotations)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "brokkr-tls" || !slices.Equal(ing.Spec.TLS[0].Hosts, []string{"brokkr.example.com"}) {
		t.Errorf("Ingress TLS = %+v, want brokkr-tls for brokkr.example.com", ing.Spec.TLS)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "brokkr.example.com" || ing.Spec.Rules[0].HTTP == nil {
		t.Fatalf("Ingress rules = %+v, want one for brokkr.example.com", ing.Spec.Rules)
	}
	paths := ing.Spec.Rules[0].HTTP.Paths
	if len(paths) != 1 || paths[0].Path != "/" || paths[0].PathType == nil || *paths[0].PathType != networkingv1.PathTypePrefix {
		t.Fatalf("Ingress paths = %+v, want / as Prefix", paths)
	}
	if b := paths[0].Backend.Service; b == nil || b.Name != svc.Name || b.Port.Name != "http" {
		t.Errorf("Ingress backend = %+v, want Service %s port http", paths[0].Backend, svc.Name)
	} else if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == b.Port.Name }) {
		t.Errorf("Service %s has no port named %s for the Ingress", svc.Name, b.Port.Name)
	}

	np := one[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
	checkSelects(t, "NetworkPolicy", np.Spec.PodSelector.MatchLabels, d)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes = %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 1 {
		t.Fatalf("%d ingress rules, want 1", len(np.Spec.Ingress))
	}
	in := np.Spec.Ingress[0]
	if got := portsOf(in.Ports); !slices.Equal(got, []string{"TCP/http"}) {
		t.Errorf("ingress ports = %v, want TCP/http", got)
	}
	checkPort(t, container(t, d), "http", 3000)
	if got, want := peers(in.From), "ns[kubernetes.io/metadata.name:ingress-nginx] ns[brokkr.io/agents:true]"; got != want {
		t.Errorf("ingress from %q, want %q", got, want)
	}
	checkDNSEgress(t, np)
	if got := peers(egressTo(t, np, "TCP/5432").To); got != "ip:10.20.0.0/16" {
		t.Errorf("database egress goes to %q, want ip:10.20.0.0/16", got)
	}
	if r := egressTo(t, np, "TCP/443"); len(r.To) != 0 {
		t.Errorf("the extra egress rule gained peers: %q", peers(r.To))
	}
	if len(np.Spec.Egress) != 3 {
		t.Errorf("%d egress rules, want DNS, database and the extra one", len(np.Spec.Egress))
	}

	pdb := one[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
	checkSelects(t, "PodDisruptionBudget", pdb.Spec.Selector.MatchLabels, d)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.String() != "1" || pdb.Spec.MinAvailable != nil {
		t.Errorf("PodDisruptionBudget maxUnavailable %v minAvailable %v, want maxUnavailable 1 alone", pdb.Spec.MaxUnavailable, pdb.Spec.MinAvailable)
	}

	c.dryRunApply(t, objs, ns)
	c.apply(t, ofKind(objs, "ServiceAccount"), ns)
	c.admitPods(t, objs, ns)

	t.Run("embedded database", func(t *testing.T) {
		objs := render(t, "brokkr-broker", "brokkr-broker", ns, append(ciValues(t, "brokkr-broker", "embedded-values.yaml"),
			"--set", "networkPolicy.enabled=true", "--set", "ingress.enabled=true")...)
		np := one[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
		checkDNSEgress(t, np)
		if len(np.Spec.Egress) != 1 {
			t.Errorf("egress rules %+v: the embedded database is on the loopback interface and needs none", np.Spec.Egress)
		}
		ing := one[networkingv1.Ingress](t, objs, "Ingress")
		if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "" {
			t.Errorf("Ingress rules without hosts = %+v, want one rule for any host", ing.Spec.Rules)
		}
		c.dryRunApply(t, objs, ns)
	})
	t.Run("egress unrestricted", func(t *testing.T) {
		objs := render(t, "brokkr-broker", "brokkr-broker", ns, append(ciValues(t, "brokkr-broker", "day2-values.yaml"),
			"--set", "networkPolicy.egress.enabled=false")...)
		np := one[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
		if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || len(np.Spec.Egress) != 0 {
			t.Errorf("with egress.enabled=false: policyTypes %v, %d egress rules; want Ingress alone", np.Spec.PolicyTypes, len(np.Spec.Egress))
		}
	})
}

// TestAgentNetworkPolicy: the agent's NetworkPolicy is egress-only (its health port stays
// reachable) and lets the agent reach DNS, the broker on the port of broker.url (or the ports
// given), the Kubernetes API server and the extra rules. The API server accepts it.
func TestAgentNetworkPolicy(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	if n := len(ofKind(render(t, "brokkr-agent", "brokkr-agent", ns, ciValues(t, "brokkr-agent", "cluster-values.yaml")...), "NetworkPolicy")); n != 0 {
		t.Errorf("%d NetworkPolicies rendered by default, want none", n)
	}

	values := ciValues(t, "brokkr-agent", "day2-values.yaml")
	objs := render(t, "brokkr-agent", "brokkr-agent", ns, values...)
	d, _ := agentBasics(t, objs)
	np := one[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
	checkSelects(t, "NetworkPolicy", np.Spec.PodSelector.MatchLabels, d)
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}) || len(np.Spec.Ingress) != 0 {
		t.Errorf("policyTypes %v with %d ingress rules, want Egress alone", np.Spec.PolicyTypes, len(np.Spec.Ingress))
	}
	checkDNSEgress(t, np)
	want := "ns[kubernetes.io/metadata.name:brokkr]+pod[app.kubernetes.io/name:brokkr-broker]"
	if got := peers(egressTo(t, np, "TCP/3000").To); got != want {
		t.Errorf("broker egress goes to %q, want %q", got, want)
	}
	if got := peers(egressTo(t, np, "TCP/443", "TCP/6443").To); got != "ip:10.0.0.1/32 ip:192.168.10.0/24" {
		t.Errorf("Kubernetes API egress goes to %q", got)
	}
	if r := egressTo(t, np, "TCP/443"); len(r.To) != 0 {
		t.Errorf("the extra egress rule gained peers: %q", peers(r.To))
	}
	if len(np.Spec.Egress) != 4 {
		t.Errorf("%d egress rules, want DNS, broker, Kubernetes API and the extra one", len(np.Spec.Egress))
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--set", "broker.url=https://brokkr.example.com"}, []string{"TCP/443"}},
		{[]string{"--set", "broker.url=http://brokkr.example.com/"}, []string{"TCP/80"}},
		{[]string{"--set", "broker.url=https://[fd00::1]:8443"}, []string{"TCP/8443"}},
		{[]string{"--set", "networkPolicy.broker.ports={3000,3001}"}, []string{"TCP/3000", "TCP/3001"}},
	} {
		objs := render(t, "brokkr-agent", "brokkr-agent", ns, append(slices.Clone(values), tc.args...)...)
		np := one[networkingv1.NetworkPolicy](t, objs, "NetworkPolicy")
		if len(np.Spec.Egress) < 2 || !slices.Equal(portsOf(np.Spec.Egress[1].Ports), tc.want) {
			t.Errorf("%v: broker egress rule %+v, want ports %v", tc.args, np.Spec.Egress, tc.want)
		}
	}

	c.dryRunApply(t, objs, ns)
	c.apply(t, ofKind(objs, "ServiceAccount"), ns)
	c.admitPods(t, objs, ns)
}
