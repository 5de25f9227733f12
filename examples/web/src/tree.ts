import type { GuildhallClient, TreeNode } from '@guildhall/sdk';

/** A node of the sidebar: a scope the user may see, with the user's unread and mention counts. */
export type SidebarNode = TreeNode & { unreadCount: number; mentionCount: number };

/**
 * The communities the user belongs to, each with the subtree they may see (`scopes.tree`,
 * which carries the unread counts). The API has no "my communities" call, so the roots
 * come from the user's read states (one per membership, `readState.list`): each scope's
 * path starts at its community. Direct conversations (no community) are left out.
 */
export async function loadCommunities(client: GuildhallClient): Promise<SidebarNode[][]> {
  const states = await client.readState.list.query();
  const scopes = await Promise.all(states.slice(0, 200).map((s) => client.scopes.get.query({ scopeId: s.scopeId }).catch(() => null)));
  const roots = new Set<string>();
  for (const scope of scopes) {
    if (!scope || scope.kind === 'dm') continue;
    roots.add(scope.path[0] ?? scope.id);
  }
  const trees = await Promise.all([...roots].map((rootId) => client.scopes.tree.query({ rootId }).catch(() => null)));
  return trees.filter((t): t is SidebarNode[] => t !== null && t.length > 0).sort((a, b) => a[0]!.name.localeCompare(b[0]!.name));
}

/**
 * Renders the communities as nested lists. `onPick` gets the scope to open; `selected`
 * is marked with aria-current.
 */
export function renderTree(
  el: HTMLElement,
  communities: SidebarNode[][],
  selected: string | null,
  onPick: (node: SidebarNode) => void,
): void {
  const top = document.createElement('ul');
  for (const nodes of communities) {
    const items = new Map<string, HTMLLIElement>();
    const lists = new Map<string, HTMLUListElement>();
    for (const node of nodes) {
      const li = document.createElement('li');
      li.className = node.kind;
      li.dataset.scopeId = node.id;
      if (!node.isMember) li.classList.add('not-member');
      const button = document.createElement('button');
      button.type = 'button';
      button.setAttribute('aria-current', String(node.id === selected));
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = `${node.kind === 'room' ? '# ' : ''}${node.name}`;
      button.append(name);
      if (node.unreadCount > 0) {
        const badge = document.createElement('span');
        badge.className = node.mentionCount > 0 ? 'badge mention' : 'badge';
        badge.textContent = String(node.unreadCount);
        badge.title = `${node.unreadCount} unread${node.mentionCount ? `, ${node.mentionCount} mentioning you` : ''}`;
        button.append(badge);
      }
      button.addEventListener('click', () => onPick(node));
      li.append(button);
      items.set(node.id, li);
      const parentList = node.parentId ? lists.get(node.parentId) : undefined;
      const parentItem = node.parentId ? items.get(node.parentId) : undefined;
      if (parentItem && !parentList) {
        const ul = document.createElement('ul');
        parentItem.append(ul);
        lists.set(node.parentId!, ul);
      }
      const list = node.parentId ? lists.get(node.parentId) : undefined;
      if (list) list.append(li);
      else top.append(li);
    }
  }
  el.replaceChildren(top);
}
