-- Issue 16, territories and scopes. A CPTS is an id, a name, an optional FINESS number and its
-- communes; a département is an INSEE prefix and needs no table. Every scope string below is
-- the canonical form of domain::Scope: 'national', or territories sorted and comma-separated
-- ('dep:54,dep:57', 'cpts:grand_nancy').
CREATE TABLE cpts (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    finess      TEXT UNIQUE,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE cpts_communes (
    cpts_id  TEXT NOT NULL REFERENCES cpts (id) ON DELETE CASCADE,
    insee    TEXT NOT NULL,
    PRIMARY KEY (cpts_id, insee)
);
CREATE INDEX cpts_communes_insee ON cpts_communes (insee);

-- The ten CPTS of fixtures/data/territories.csv (real territories of the Grand Est, from
-- their EPCI or their declared communes), so that a fresh database can bind tokens to them;
-- an admin edits, adds or removes CPTS afterwards (PUT/DELETE /territories/{id}, cpts territory).
INSERT INTO cpts (id, name, finess, updated_at) VALUES
    ('est_sedanais_portes_luxembourg', 'Est Sedanais et Portes du Luxembourg (08)', NULL, 0),
    ('grand_nancy', 'Métropole du Grand Nancy (54)', NULL, 0),
    ('la_plaine_88', 'La Plaine (88)', NULL, 0),
    ('pays_epernay', 'Pays d''Epernay Terres de Champagne (51)', NULL, 0),
    ('saint_dizier_der_blaise', 'Saint-Dizier Der & Blaise (52)', NULL, 0),
    ('sauer_pechelbronn_niederbronn', 'Secteur Sauer-Pechelbronn et Pays de Niederbronn (67)', NULL, 0),
    ('sud_toulois', 'Sud Toulois (54)', NULL, 0),
    ('territoire_messin', 'CPTS du territoire messin / Metz (57)', NULL, 0),
    ('thur_doller', 'Pays Thur-Doller (68)', NULL, 0),
    ('vouzinois', 'Vouzinois (08)', NULL, 0);
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('est_sedanais_portes_luxembourg', '08013'), ('est_sedanais_portes_luxembourg', '08023'), ('est_sedanais_portes_luxembourg', '08029'), ('est_sedanais_portes_luxembourg', '08034'), ('est_sedanais_portes_luxembourg', '08043'), ('est_sedanais_portes_luxembourg', '08053'), ('est_sedanais_portes_luxembourg', '08055'), ('est_sedanais_portes_luxembourg', '08063'),
    ('est_sedanais_portes_luxembourg', '08065'), ('est_sedanais_portes_luxembourg', '08067'), ('est_sedanais_portes_luxembourg', '08083'), ('est_sedanais_portes_luxembourg', '08088'), ('est_sedanais_portes_luxembourg', '08090'), ('est_sedanais_portes_luxembourg', '08101'), ('est_sedanais_portes_luxembourg', '08115'), ('est_sedanais_portes_luxembourg', '08136'),
    ('est_sedanais_portes_luxembourg', '08138'), ('est_sedanais_portes_luxembourg', '08145'), ('est_sedanais_portes_luxembourg', '08153'), ('est_sedanais_portes_luxembourg', '08159'), ('est_sedanais_portes_luxembourg', '08168'), ('est_sedanais_portes_luxembourg', '08170'), ('est_sedanais_portes_luxembourg', '08179'), ('est_sedanais_portes_luxembourg', '08184'),
    ('est_sedanais_portes_luxembourg', '08191'), ('est_sedanais_portes_luxembourg', '08211'), ('est_sedanais_portes_luxembourg', '08223'), ('est_sedanais_portes_luxembourg', '08232'), ('est_sedanais_portes_luxembourg', '08252'), ('est_sedanais_portes_luxembourg', '08255'), ('est_sedanais_portes_luxembourg', '08268'), ('est_sedanais_portes_luxembourg', '08269'),
    ('est_sedanais_portes_luxembourg', '08275'), ('est_sedanais_portes_luxembourg', '08276'), ('est_sedanais_portes_luxembourg', '08281'), ('est_sedanais_portes_luxembourg', '08289'), ('est_sedanais_portes_luxembourg', '08291'), ('est_sedanais_portes_luxembourg', '08293'), ('est_sedanais_portes_luxembourg', '08311'), ('est_sedanais_portes_luxembourg', '08317'),
    ('est_sedanais_portes_luxembourg', '08336'), ('est_sedanais_portes_luxembourg', '08342'), ('est_sedanais_portes_luxembourg', '08343'), ('est_sedanais_portes_luxembourg', '08347'), ('est_sedanais_portes_luxembourg', '08349'), ('est_sedanais_portes_luxembourg', '08354'), ('est_sedanais_portes_luxembourg', '08357'), ('est_sedanais_portes_luxembourg', '08375'),
    ('est_sedanais_portes_luxembourg', '08376'), ('est_sedanais_portes_luxembourg', '08399'), ('est_sedanais_portes_luxembourg', '08421'), ('est_sedanais_portes_luxembourg', '08430'), ('est_sedanais_portes_luxembourg', '08444'), ('est_sedanais_portes_luxembourg', '08459'), ('est_sedanais_portes_luxembourg', '08466'), ('est_sedanais_portes_luxembourg', '08477'),
    ('est_sedanais_portes_luxembourg', '08485'), ('est_sedanais_portes_luxembourg', '08501'), ('est_sedanais_portes_luxembourg', '08502');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('grand_nancy', '54025'), ('grand_nancy', '54165'), ('grand_nancy', '54184'), ('grand_nancy', '54197'), ('grand_nancy', '54257'), ('grand_nancy', '54265'), ('grand_nancy', '54274'), ('grand_nancy', '54300'),
    ('grand_nancy', '54304'), ('grand_nancy', '54328'), ('grand_nancy', '54339'), ('grand_nancy', '54357'), ('grand_nancy', '54395'), ('grand_nancy', '54439'), ('grand_nancy', '54482'), ('grand_nancy', '54495'),
    ('grand_nancy', '54498'), ('grand_nancy', '54526'), ('grand_nancy', '54547'), ('grand_nancy', '54578');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('la_plaine_88', '52289'), ('la_plaine_88', '88003'), ('la_plaine_88', '88004'), ('la_plaine_88', '88007'), ('la_plaine_88', '88010'), ('la_plaine_88', '88013'), ('la_plaine_88', '88015'), ('la_plaine_88', '88016'),
    ('la_plaine_88', '88017'), ('la_plaine_88', '88019'), ('la_plaine_88', '88020'), ('la_plaine_88', '88022'), ('la_plaine_88', '88025'), ('la_plaine_88', '88031'), ('la_plaine_88', '88036'), ('la_plaine_88', '88043'),
    ('la_plaine_88', '88044'), ('la_plaine_88', '88045'), ('la_plaine_88', '88049'), ('la_plaine_88', '88051'), ('la_plaine_88', '88052'), ('la_plaine_88', '88061'), ('la_plaine_88', '88062'), ('la_plaine_88', '88065'),
    ('la_plaine_88', '88074'), ('la_plaine_88', '88079'), ('la_plaine_88', '88083'), ('la_plaine_88', '88095'), ('la_plaine_88', '88096'), ('la_plaine_88', '88102'), ('la_plaine_88', '88104'), ('la_plaine_88', '88105'),
    ('la_plaine_88', '88107'), ('la_plaine_88', '88114'), ('la_plaine_88', '88117'), ('la_plaine_88', '88118'), ('la_plaine_88', '88119'), ('la_plaine_88', '88123'), ('la_plaine_88', '88124'), ('la_plaine_88', '88125'),
    ('la_plaine_88', '88137'), ('la_plaine_88', '88138'), ('la_plaine_88', '88140'), ('la_plaine_88', '88141'), ('la_plaine_88', '88144'), ('la_plaine_88', '88146'), ('la_plaine_88', '88149'), ('la_plaine_88', '88150'),
    ('la_plaine_88', '88154'), ('la_plaine_88', '88161'), ('la_plaine_88', '88162'), ('la_plaine_88', '88164'), ('la_plaine_88', '88171'), ('la_plaine_88', '88179'), ('la_plaine_88', '88180'), ('la_plaine_88', '88183'),
    ('la_plaine_88', '88187'), ('la_plaine_88', '88189'), ('la_plaine_88', '88194'), ('la_plaine_88', '88195'), ('la_plaine_88', '88199'), ('la_plaine_88', '88206'), ('la_plaine_88', '88208'), ('la_plaine_88', '88212'),
    ('la_plaine_88', '88214'), ('la_plaine_88', '88219'), ('la_plaine_88', '88220'), ('la_plaine_88', '88227'), ('la_plaine_88', '88229'), ('la_plaine_88', '88231'), ('la_plaine_88', '88232'), ('la_plaine_88', '88238'),
    ('la_plaine_88', '88241'), ('la_plaine_88', '88242'), ('la_plaine_88', '88248'), ('la_plaine_88', '88249'), ('la_plaine_88', '88252'), ('la_plaine_88', '88255'), ('la_plaine_88', '88258'), ('la_plaine_88', '88259'),
    ('la_plaine_88', '88265'), ('la_plaine_88', '88267'), ('la_plaine_88', '88270'), ('la_plaine_88', '88271'), ('la_plaine_88', '88272'), ('la_plaine_88', '88274'), ('la_plaine_88', '88278'), ('la_plaine_88', '88283'),
    ('la_plaine_88', '88285'), ('la_plaine_88', '88287'), ('la_plaine_88', '88289'), ('la_plaine_88', '88290'), ('la_plaine_88', '88291'), ('la_plaine_88', '88293'), ('la_plaine_88', '88296'), ('la_plaine_88', '88299'),
    ('la_plaine_88', '88303'), ('la_plaine_88', '88305'), ('la_plaine_88', '88307'), ('la_plaine_88', '88308'), ('la_plaine_88', '88309'), ('la_plaine_88', '88310'), ('la_plaine_88', '88312'), ('la_plaine_88', '88314'),
    ('la_plaine_88', '88316'), ('la_plaine_88', '88321'), ('la_plaine_88', '88324'), ('la_plaine_88', '88325'), ('la_plaine_88', '88330'), ('la_plaine_88', '88332'), ('la_plaine_88', '88335'), ('la_plaine_88', '88336'),
    ('la_plaine_88', '88343'), ('la_plaine_88', '88344'), ('la_plaine_88', '88350'), ('la_plaine_88', '88352'), ('la_plaine_88', '88353'), ('la_plaine_88', '88360'), ('la_plaine_88', '88363'), ('la_plaine_88', '88366'),
    ('la_plaine_88', '88376'), ('la_plaine_88', '88377'), ('la_plaine_88', '88381'), ('la_plaine_88', '88385'), ('la_plaine_88', '88387'), ('la_plaine_88', '88390'), ('la_plaine_88', '88394'), ('la_plaine_88', '88401'),
    ('la_plaine_88', '88403'), ('la_plaine_88', '88404'), ('la_plaine_88', '88407'), ('la_plaine_88', '88411'), ('la_plaine_88', '88421'), ('la_plaine_88', '88427'), ('la_plaine_88', '88430'), ('la_plaine_88', '88431'),
    ('la_plaine_88', '88434'), ('la_plaine_88', '88440'), ('la_plaine_88', '88441'), ('la_plaine_88', '88443'), ('la_plaine_88', '88446'), ('la_plaine_88', '88448'), ('la_plaine_88', '88450'), ('la_plaine_88', '88452'),
    ('la_plaine_88', '88453'), ('la_plaine_88', '88455'), ('la_plaine_88', '88456'), ('la_plaine_88', '88457'), ('la_plaine_88', '88459'), ('la_plaine_88', '88460'), ('la_plaine_88', '88461'), ('la_plaine_88', '88466'),
    ('la_plaine_88', '88471'), ('la_plaine_88', '88472'), ('la_plaine_88', '88473'), ('la_plaine_88', '88474'), ('la_plaine_88', '88475'), ('la_plaine_88', '88477'), ('la_plaine_88', '88478'), ('la_plaine_88', '88482'),
    ('la_plaine_88', '88485'), ('la_plaine_88', '88488'), ('la_plaine_88', '88490'), ('la_plaine_88', '88491'), ('la_plaine_88', '88496'), ('la_plaine_88', '88510'), ('la_plaine_88', '88511'), ('la_plaine_88', '88514'),
    ('la_plaine_88', '88515'), ('la_plaine_88', '88516'), ('la_plaine_88', '88517'), ('la_plaine_88', '88518'), ('la_plaine_88', '88523'), ('la_plaine_88', '88524');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('pays_epernay', '51002'), ('pays_epernay', '51007'), ('pays_epernay', '51018'), ('pays_epernay', '51028'), ('pays_epernay', '51029'), ('pays_epernay', '51030'), ('pays_epernay', '51033'), ('pays_epernay', '51034'),
    ('pays_epernay', '51038'), ('pays_epernay', '51042'), ('pays_epernay', '51045'), ('pays_epernay', '51048'), ('pays_epernay', '51049'), ('pays_epernay', '51076'), ('pays_epernay', '51079'), ('pays_epernay', '51085'),
    ('pays_epernay', '51093'), ('pays_epernay', '51100'), ('pays_epernay', '51107'), ('pays_epernay', '51110'), ('pays_epernay', '51113'), ('pays_epernay', '51119'), ('pays_epernay', '51120'), ('pays_epernay', '51121'),
    ('pays_epernay', '51128'), ('pays_epernay', '51136'), ('pays_epernay', '51142'), ('pays_epernay', '51153'), ('pays_epernay', '51154'), ('pays_epernay', '51157'), ('pays_epernay', '51158'), ('pays_epernay', '51163'),
    ('pays_epernay', '51173'), ('pays_epernay', '51174'), ('pays_epernay', '51186'), ('pays_epernay', '51192'), ('pays_epernay', '51196'), ('pays_epernay', '51199'), ('pays_epernay', '51200'), ('pays_epernay', '51202'),
    ('pays_epernay', '51204'), ('pays_epernay', '51210'), ('pays_epernay', '51217'), ('pays_epernay', '51226'), ('pays_epernay', '51230'), ('pays_epernay', '51238'), ('pays_epernay', '51239'), ('pays_epernay', '51247'),
    ('pays_epernay', '51249'), ('pays_epernay', '51251'), ('pays_epernay', '51252'), ('pays_epernay', '51256'), ('pays_epernay', '51266'), ('pays_epernay', '51268'), ('pays_epernay', '51273'), ('pays_epernay', '51281'),
    ('pays_epernay', '51287'), ('pays_epernay', '51298'), ('pays_epernay', '51302'), ('pays_epernay', '51320'), ('pays_epernay', '51327'), ('pays_epernay', '51342'), ('pays_epernay', '51344'), ('pays_epernay', '51345'),
    ('pays_epernay', '51346'), ('pays_epernay', '51367'), ('pays_epernay', '51378'), ('pays_epernay', '51381'), ('pays_epernay', '51384'), ('pays_epernay', '51387'), ('pays_epernay', '51390'), ('pays_epernay', '51392'),
    ('pays_epernay', '51393'), ('pays_epernay', '51396'), ('pays_epernay', '51398'), ('pays_epernay', '51410'), ('pays_epernay', '51413'), ('pays_epernay', '51416'), ('pays_epernay', '51425'), ('pays_epernay', '51430'),
    ('pays_epernay', '51431'), ('pays_epernay', '51434'), ('pays_epernay', '51435'), ('pays_epernay', '51457'), ('pays_epernay', '51465'), ('pays_epernay', '51469'), ('pays_epernay', '51480'), ('pays_epernay', '51488'),
    ('pays_epernay', '51499'), ('pays_epernay', '51558'), ('pays_epernay', '51560'), ('pays_epernay', '51563'), ('pays_epernay', '51564'), ('pays_epernay', '51576'), ('pays_epernay', '51578'), ('pays_epernay', '51585'),
    ('pays_epernay', '51592'), ('pays_epernay', '51597'), ('pays_epernay', '51603'), ('pays_epernay', '51605'), ('pays_epernay', '51609'), ('pays_epernay', '51611'), ('pays_epernay', '51612'), ('pays_epernay', '51627'),
    ('pays_epernay', '51630'), ('pays_epernay', '51638'), ('pays_epernay', '51639'), ('pays_epernay', '51641'), ('pays_epernay', '51643'), ('pays_epernay', '51644'), ('pays_epernay', '51655'), ('pays_epernay', '51663');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('saint_dizier_der_blaise', '51008'), ('saint_dizier_der_blaise', '51144'), ('saint_dizier_der_blaise', '51286'), ('saint_dizier_der_blaise', '51315'), ('saint_dizier_der_blaise', '51358'), ('saint_dizier_der_blaise', '51478'), ('saint_dizier_der_blaise', '51521'), ('saint_dizier_der_blaise', '51522'),
    ('saint_dizier_der_blaise', '51583'), ('saint_dizier_der_blaise', '51654'), ('saint_dizier_der_blaise', '52006'), ('saint_dizier_der_blaise', '52021'), ('saint_dizier_der_blaise', '52034'), ('saint_dizier_der_blaise', '52045'), ('saint_dizier_der_blaise', '52079'), ('saint_dizier_der_blaise', '52088'),
    ('saint_dizier_der_blaise', '52099'), ('saint_dizier_der_blaise', '52104'), ('saint_dizier_der_blaise', '52123'), ('saint_dizier_der_blaise', '52156'), ('saint_dizier_der_blaise', '52169'), ('saint_dizier_der_blaise', '52171'), ('saint_dizier_der_blaise', '52179'), ('saint_dizier_der_blaise', '52182'),
    ('saint_dizier_der_blaise', '52194'), ('saint_dizier_der_blaise', '52198'), ('saint_dizier_der_blaise', '52203'), ('saint_dizier_der_blaise', '52206'), ('saint_dizier_der_blaise', '52235'), ('saint_dizier_der_blaise', '52244'), ('saint_dizier_der_blaise', '52265'), ('saint_dizier_der_blaise', '52266'),
    ('saint_dizier_der_blaise', '52267'), ('saint_dizier_der_blaise', '52294'), ('saint_dizier_der_blaise', '52300'), ('saint_dizier_der_blaise', '52302'), ('saint_dizier_der_blaise', '52327'), ('saint_dizier_der_blaise', '52331'), ('saint_dizier_der_blaise', '52336'), ('saint_dizier_der_blaise', '52341'),
    ('saint_dizier_der_blaise', '52347'), ('saint_dizier_der_blaise', '52370'), ('saint_dizier_der_blaise', '52386'), ('saint_dizier_der_blaise', '52391'), ('saint_dizier_der_blaise', '52411'), ('saint_dizier_der_blaise', '52413'), ('saint_dizier_der_blaise', '52414'), ('saint_dizier_der_blaise', '52429'),
    ('saint_dizier_der_blaise', '52448'), ('saint_dizier_der_blaise', '52475'), ('saint_dizier_der_blaise', '52479'), ('saint_dizier_der_blaise', '52487'), ('saint_dizier_der_blaise', '52497'), ('saint_dizier_der_blaise', '52500'), ('saint_dizier_der_blaise', '52502'), ('saint_dizier_der_blaise', '52510'),
    ('saint_dizier_der_blaise', '52528'), ('saint_dizier_der_blaise', '52534'), ('saint_dizier_der_blaise', '52543'), ('saint_dizier_der_blaise', '52550');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('sauer_pechelbronn_niederbronn', '67037'), ('sauer_pechelbronn_niederbronn', '67083'), ('sauer_pechelbronn_niederbronn', '67093'), ('sauer_pechelbronn_niederbronn', '67110'), ('sauer_pechelbronn_niederbronn', '67132'), ('sauer_pechelbronn_niederbronn', '67141'), ('sauer_pechelbronn_niederbronn', '67147'), ('sauer_pechelbronn_niederbronn', '67160'),
    ('sauer_pechelbronn_niederbronn', '67174'), ('sauer_pechelbronn_niederbronn', '67176'), ('sauer_pechelbronn_niederbronn', '67177'), ('sauer_pechelbronn_niederbronn', '67186'), ('sauer_pechelbronn_niederbronn', '67254'), ('sauer_pechelbronn_niederbronn', '67257'), ('sauer_pechelbronn_niederbronn', '67259'), ('sauer_pechelbronn_niederbronn', '67260'),
    ('sauer_pechelbronn_niederbronn', '67263'), ('sauer_pechelbronn_niederbronn', '67271'), ('sauer_pechelbronn_niederbronn', '67290'), ('sauer_pechelbronn_niederbronn', '67291'), ('sauer_pechelbronn_niederbronn', '67292'), ('sauer_pechelbronn_niederbronn', '67303'), ('sauer_pechelbronn_niederbronn', '67324'), ('sauer_pechelbronn_niederbronn', '67334'),
    ('sauer_pechelbronn_niederbronn', '67340'), ('sauer_pechelbronn_niederbronn', '67341'), ('sauer_pechelbronn_niederbronn', '67353'), ('sauer_pechelbronn_niederbronn', '67358'), ('sauer_pechelbronn_niederbronn', '67379'), ('sauer_pechelbronn_niederbronn', '67388'), ('sauer_pechelbronn_niederbronn', '67415'), ('sauer_pechelbronn_niederbronn', '67502'),
    ('sauer_pechelbronn_niederbronn', '67511'), ('sauer_pechelbronn_niederbronn', '67536'), ('sauer_pechelbronn_niederbronn', '67537'), ('sauer_pechelbronn_niederbronn', '67550'), ('sauer_pechelbronn_niederbronn', '67558');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('sud_toulois', '54003'), ('sud_toulois', '54008'), ('sud_toulois', '54010'), ('sud_toulois', '54041'), ('sud_toulois', '54046'), ('sud_toulois', '54047'), ('sud_toulois', '54052'), ('sud_toulois', '54068'),
    ('sud_toulois', '54080'), ('sud_toulois', '54105'), ('sud_toulois', '54135'), ('sud_toulois', '54140'), ('sud_toulois', '54143'), ('sud_toulois', '54146'), ('sud_toulois', '54158'), ('sud_toulois', '54189'),
    ('sud_toulois', '54190'), ('sud_toulois', '54218'), ('sud_toulois', '54220'), ('sud_toulois', '54223'), ('sud_toulois', '54226'), ('sud_toulois', '54237'), ('sud_toulois', '54379'), ('sud_toulois', '54380'),
    ('sud_toulois', '54392'), ('sud_toulois', '54405'), ('sud_toulois', '54438'), ('sud_toulois', '54494'), ('sud_toulois', '54496'), ('sud_toulois', '54500'), ('sud_toulois', '54523'), ('sud_toulois', '54529'),
    ('sud_toulois', '54530'), ('sud_toulois', '54531'), ('sud_toulois', '54538'), ('sud_toulois', '54545'), ('sud_toulois', '54548'), ('sud_toulois', '88504');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('territoire_messin', '57017'), ('territoire_messin', '57031'), ('territoire_messin', '57032'), ('territoire_messin', '57039'), ('territoire_messin', '57049'), ('territoire_messin', '57134'), ('territoire_messin', '57140'), ('territoire_messin', '57142'),
    ('territoire_messin', '57146'), ('territoire_messin', '57147'), ('territoire_messin', '57162'), ('territoire_messin', '57212'), ('territoire_messin', '57256'), ('territoire_messin', '57351'), ('territoire_messin', '57352'), ('territoire_messin', '57385'),
    ('territoire_messin', '57396'), ('territoire_messin', '57412'), ('territoire_messin', '57415'), ('territoire_messin', '57416'), ('territoire_messin', '57445'), ('territoire_messin', '57447'), ('territoire_messin', '57452'), ('territoire_messin', '57454'),
    ('territoire_messin', '57463'), ('territoire_messin', '57467'), ('territoire_messin', '57480'), ('territoire_messin', '57487'), ('territoire_messin', '57510'), ('territoire_messin', '57512'), ('territoire_messin', '57534'), ('territoire_messin', '57545'),
    ('territoire_messin', '57552'), ('territoire_messin', '57553'), ('territoire_messin', '57593'), ('territoire_messin', '57601'), ('territoire_messin', '57616'), ('territoire_messin', '57622'), ('territoire_messin', '57624'), ('territoire_messin', '57634'),
    ('territoire_messin', '57642'), ('territoire_messin', '57693'), ('territoire_messin', '57694'), ('territoire_messin', '57701'), ('territoire_messin', '57707'), ('territoire_messin', '57751');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('thur_doller', '68011'), ('thur_doller', '68012'), ('thur_doller', '68040'), ('thur_doller', '68045'), ('thur_doller', '68046'), ('thur_doller', '68059'), ('thur_doller', '68060'), ('thur_doller', '68063'),
    ('thur_doller', '68073'), ('thur_doller', '68089'), ('thur_doller', '68102'), ('thur_doller', '68106'), ('thur_doller', '68115'), ('thur_doller', '68151'), ('thur_doller', '68167'), ('thur_doller', '68171'),
    ('thur_doller', '68179'), ('thur_doller', '68180'), ('thur_doller', '68199'), ('thur_doller', '68201'), ('thur_doller', '68211'), ('thur_doller', '68213'), ('thur_doller', '68217'), ('thur_doller', '68219'),
    ('thur_doller', '68239'), ('thur_doller', '68247'), ('thur_doller', '68261'), ('thur_doller', '68262'), ('thur_doller', '68275'), ('thur_doller', '68279'), ('thur_doller', '68292'), ('thur_doller', '68302'),
    ('thur_doller', '68304'), ('thur_doller', '68307'), ('thur_doller', '68308'), ('thur_doller', '68313'), ('thur_doller', '68322'), ('thur_doller', '68328'), ('thur_doller', '68334'), ('thur_doller', '68342'),
    ('thur_doller', '68344'), ('thur_doller', '68348'), ('thur_doller', '68359'), ('thur_doller', '68361'), ('thur_doller', '68370'), ('thur_doller', '68372');
INSERT INTO cpts_communes (cpts_id, insee) VALUES
    ('vouzinois', '08017'), ('vouzinois', '08018'), ('vouzinois', '08019'), ('vouzinois', '08020'), ('vouzinois', '08031'), ('vouzinois', '08033'), ('vouzinois', '08035'), ('vouzinois', '08036'),
    ('vouzinois', '08045'), ('vouzinois', '08049'), ('vouzinois', '08052'), ('vouzinois', '08056'), ('vouzinois', '08057'), ('vouzinois', '08059'), ('vouzinois', '08061'), ('vouzinois', '08074'),
    ('vouzinois', '08075'), ('vouzinois', '08077'), ('vouzinois', '08082'), ('vouzinois', '08085'), ('vouzinois', '08086'), ('vouzinois', '08089'), ('vouzinois', '08092'), ('vouzinois', '08097'),
    ('vouzinois', '08098'), ('vouzinois', '08104'), ('vouzinois', '08109'), ('vouzinois', '08116'), ('vouzinois', '08120'), ('vouzinois', '08128'), ('vouzinois', '08130'), ('vouzinois', '08131'),
    ('vouzinois', '08135'), ('vouzinois', '08147'), ('vouzinois', '08161'), ('vouzinois', '08164'), ('vouzinois', '08171'), ('vouzinois', '08176'), ('vouzinois', '08186'), ('vouzinois', '08197'),
    ('vouzinois', '08198'), ('vouzinois', '08200'), ('vouzinois', '08215'), ('vouzinois', '08220'), ('vouzinois', '08233'), ('vouzinois', '08245'), ('vouzinois', '08246'), ('vouzinois', '08250'),
    ('vouzinois', '08256'), ('vouzinois', '08259'), ('vouzinois', '08264'), ('vouzinois', '08271'), ('vouzinois', '08274'), ('vouzinois', '08279'), ('vouzinois', '08280'), ('vouzinois', '08296'),
    ('vouzinois', '08301'), ('vouzinois', '08303'), ('vouzinois', '08308'), ('vouzinois', '08309'), ('vouzinois', '08310'), ('vouzinois', '08325'), ('vouzinois', '08326'), ('vouzinois', '08332'),
    ('vouzinois', '08333'), ('vouzinois', '08338'), ('vouzinois', '08350'), ('vouzinois', '08351'), ('vouzinois', '08378'), ('vouzinois', '08379'), ('vouzinois', '08383'), ('vouzinois', '08390'),
    ('vouzinois', '08392'), ('vouzinois', '08393'), ('vouzinois', '08394'), ('vouzinois', '08405'), ('vouzinois', '08406'), ('vouzinois', '08407'), ('vouzinois', '08410'), ('vouzinois', '08412'),
    ('vouzinois', '08424'), ('vouzinois', '08425'), ('vouzinois', '08431'), ('vouzinois', '08434'), ('vouzinois', '08437'), ('vouzinois', '08439'), ('vouzinois', '08446'), ('vouzinois', '08453'),
    ('vouzinois', '08455'), ('vouzinois', '08461'), ('vouzinois', '08463'), ('vouzinois', '08464'), ('vouzinois', '08470'), ('vouzinois', '08471'), ('vouzinois', '08490');

-- Tokens carry their scope; the admin role manages territories. The tokens table is rebuilt,
-- SQLite's only way to change a CHECK (see 0004 for the procedure). Tokens created before this
-- migration had no scope: they become national, and the README tells how to replace them.
CREATE TABLE tokens_new (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL
                CHECK (role IN ('cpam', 'regulateur', 'medecin', 'coordinateur', 'auditeur', 'admin')),
    rpps        TEXT,
    label       TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    expires_at  INTEGER,
    scope       TEXT NOT NULL DEFAULT 'national',
    -- A médecin acts on its own RPPS only, so its token carries one; no other token does.
    CHECK ((role = 'medecin') = (rpps IS NOT NULL))
);
INSERT INTO tokens_new (id, role, rpps, label, hash, created_at, revoked_at, expires_at)
    SELECT id, role, rpps, label, hash, created_at, revoked_at, expires_at FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_new RENAME TO tokens;

-- Every cabinet belongs to a CPTS: the one whose communes hold it. A cabinet stored before,
-- in no CPTS's commune, keeps NULL and is seen by national principals only.
ALTER TABLE cabinets ADD COLUMN cpts_id TEXT REFERENCES cpts (id);
UPDATE cabinets SET cpts_id = (SELECT MIN(cc.cpts_id) FROM cpts_communes cc WHERE cc.insee = cabinets.insee);
CREATE INDEX cabinets_cpts ON cabinets (cpts_id);

-- Batches and plans belong to the territory they were launched on; bookings to the SAS (the
-- régulateur's scope) that made them; audit rows name the territory of their author.
ALTER TABLE jobs ADD COLUMN territory TEXT NOT NULL DEFAULT 'national';
CREATE INDEX jobs_territory ON jobs (kind, territory, created_at);
ALTER TABLE bookings ADD COLUMN sas TEXT NOT NULL DEFAULT 'national';
UPDATE bookings SET sas = (SELECT t.scope FROM tokens t WHERE t.id = bookings.booked_by);
CREATE INDEX bookings_sas ON bookings (sas, created_at);
ALTER TABLE audit ADD COLUMN territory TEXT;
